# 08 · the nightly customer count: the app's own token (client credentials), customers:ro only.
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import client_credentials

job = OAuth2Session(client=BackendApplicationClient("fernhollow-reports"))
my_answer = job.fetch_token(lab.endpoint("token"), client_id="fernhollow-reports",
                            client_secret="reports-secret", scope=["customers:ro"])
client_credentials.customers_only.check(my_answer)
