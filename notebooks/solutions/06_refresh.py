# 06 · refresh: the same session, the refresh grant, the app authenticating with HTTP Basic.
from requests.auth import HTTPBasicAuth

from oauth_lab.flows import authorization_code_flow

app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")
previous_refresh_token = app.token["refresh_token"]
my_answer = app.refresh_token(lab.endpoint("token"), auth=HTTPBasicAuth("fernhollow-reports", "reports-secret"))
