# 06 · refresh: the same session, the refresh grant, the app authenticating with HTTP Basic
# (app_auth above). The first lines are the exercise cell's own: a fresh app whose token expired.
from requests.auth import HTTPBasicAuth

from oauth_lab.exercises import refresh
from oauth_lab.flows import authorization_code_flow

app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")
lab.clock.advance(3600)
previous_refresh_token = app.token["refresh_token"]

my_answer = app.refresh_token(lab.endpoint("token"), auth=HTTPBasicAuth("fernhollow-reports", "reports-secret"))
refresh.rotated.check(my_answer, previous_refresh_token)
