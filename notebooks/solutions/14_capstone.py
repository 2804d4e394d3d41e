# 14 · the capstone, end to end: a browser app (a public client, no secret) that lists the
# customers. Register it (RFC 7591); send Jane through consent with PKCE (S256) and a state; trade
# the code with its verifier; call the API with the access token; refresh when it has expired
# (the session keeps the new refresh token: rotation); revoke the refresh token (RFC 7009).
import requests
from requests_oauthlib import OAuth2Session

from oauth_lab.widgets.consent_panel import ConsentPanel

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
redirect = ConsentPanel(lab, url).decide("Allow")  # Jane allows, in her browser
app.fetch_token(lab.endpoint("token"), authorization_response=redirect, include_client_id=True)
print(app.post(lab.api("list_customers"), json={}).json()["total_customers"], "customers")

lab.clock.advance(3600)  # an hour later the access token has expired
app.refresh_token(lab.endpoint("token"), client_id=client_id)
print(app.post(lab.api("list_customers"), json={}).json()["total_customers"], "customers")

requests.post(lab.endpoint("revocation"), data={  # Jane disconnects the app
    "token": app.token["refresh_token"], "token_type_hint": "refresh_token", "client_id": client_id})

my_answer = client_id  # capstone.app.check(my_answer) grades this app
