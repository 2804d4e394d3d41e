# 14 · the capstone, end to end: a browser app (a public client, no secret) that lists the
# customers. Register it (RFC 7591); send Jane through consent with PKCE (S256) and a state; its
# callback compares the answer's state, then trades the code with its verifier; call the API with
# the access token; refresh when it has expired (the session keeps the new refresh token:
# rotation); revoke the refresh token (RFC 7009).
import requests
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import capstone
from oauth_lab.widgets.consent_panel import ConsentPanel

attempt = lab.transcript.mark()  # the grader grades the app registered after this line

registration = requests.post(lab.endpoint("registration"), json={
    "client_name": "Customer Lookup",
    "redirect_uris": [lab.redirect_uri],
    "token_endpoint_auth_method": "none",  # code in a browser cannot keep a secret
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "customers:ro",
}).json()
client_id = registration["client_id"]

app = OAuth2Session(client_id, redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256")
url, state = app.authorization_url(lab.metadata["authorization_endpoint"])


def callback(redirect):
    """The app's redirect URI: the session compares the state, then trades the code."""
    return app.fetch_token(lab.endpoint("token"), authorization_response=redirect, include_client_id=True)


callback(ConsentPanel(lab, url).decide("Allow"))  # Jane allows, in her browser
app.post(lab.api("list_customers"), json={})

lab.clock.advance(3600)  # an hour later the access token has expired
app.refresh_token(lab.endpoint("token"), client_id=client_id)
app.post(lab.api("list_customers"), json={})

requests.post(lab.endpoint("revocation"), data={  # Jane disconnects the app
    "token": app.token["refresh_token"], "token_type_hint": "refresh_token", "client_id": client_id})

capstone.app.check(attempt, callback)
