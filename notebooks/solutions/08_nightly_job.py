# 08 · a nightly job: no refresh token comes with client credentials, so each run simply asks for
# a fresh token (RFC 6749 §4.4.3) — the app's secret is all it needs.
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import client_credentials


def count_customers():
    job = OAuth2Session(client=BackendApplicationClient("fernhollow-reports"))
    job.fetch_token(lab.endpoint("token"), client_id="fernhollow-reports",
                    client_secret="reports-secret", scope=["customers:ro"])
    answer = job.post(lab.api("list_customers"), json={})
    answer.raise_for_status()
    return answer.json()["total_customers"]


client_credentials.nightly_job.check(count_customers)
