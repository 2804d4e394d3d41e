# 01 · customers only, for the public browser app: PKCE, no secret.
from requests_oauthlib import OAuth2Session

from oauth_lab.user_agent import UserAgent

widget = OAuth2Session("fernhollow-widget", redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256")
url, state = widget.authorization_url(lab.metadata["authorization_endpoint"])
redirect = UserAgent("jane", "jane-password").authorize(url, "Allow")  # Jane clicks Allow
my_answer = widget.fetch_token(lab.endpoint("token"), authorization_response=redirect,
                               include_client_id=True)
