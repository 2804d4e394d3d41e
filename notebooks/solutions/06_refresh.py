# 06 · refresh: the same session, the refresh grant, the app authenticating with HTTP Basic.
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from oauth_lab.widgets.consent_panel import ConsentPanel

oauth = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256")
url, _ = oauth.authorization_url(lab.metadata["authorization_endpoint"])
token = oauth.fetch_token(lab.endpoint("token"), client_secret="reports-secret",
                          authorization_response=ConsentPanel(lab, url).decide("Allow"))
previous_refresh_token = token["refresh_token"]
my_answer = oauth.refresh_token(lab.endpoint("token"), auth=HTTPBasicAuth("fernhollow-reports", "reports-secret"))
