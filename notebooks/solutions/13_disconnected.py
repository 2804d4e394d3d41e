# 13 · disconnect the Reports app LiveChat's way: DELETE on the token endpoint, the access token as
# the bearer token; its refresh token is revoked with it.
import requests

from oauth_lab.exercises import livechat
from oauth_lab.flows import authorization_code_flow

lc.clock.advance(30)
reports = authorization_code_flow(lc, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")
requests.delete(f"{lc.url}/v2/token", headers={"Authorization": f"Bearer {reports.token['access_token']}"})

my_answer = reports.token
livechat.disconnected.check(my_answer, lc)
