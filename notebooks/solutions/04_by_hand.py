# 04 · the code exchange by hand: one form POST to the token endpoint, the app's id and secret
# in HTTP Basic, the PKCE verifier that matches the challenge sent in the authorization request.
from urllib.parse import parse_qs, urlsplit

import requests
from requests_oauthlib import OAuth2Session

from oauth_lab.widgets.consent_panel import ConsentPanel

session = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256")
url, _ = session.authorization_url(lab.metadata["authorization_endpoint"])
redirect = ConsentPanel(lab, url).decide("Allow")
my_answer = requests.post(lab.endpoint("token"), auth=("fernhollow-reports", "reports-secret"), data={
    "grant_type": "authorization_code",
    "code": parse_qs(urlsplit(redirect).query)["code"][0],
    "redirect_uri": lab.redirect_uri,
    "code_verifier": session._client.code_verifier,
}).json()
