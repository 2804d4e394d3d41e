# 04 · the code exchange by hand: a fresh code and its PKCE verifier (what fresh_code() above does,
# with oauthlib's public helpers), then POST the token request yourself: the app's id and secret in
# HTTP Basic, the verifier that matches the challenge sent in the authorization request.
from urllib.parse import parse_qs, urlsplit

import requests
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from oauth_lab.exercises import exchange
from oauth_lab.widgets.consent_panel import ConsentPanel

pkce = WebApplicationClient("fernhollow-reports")
verifier = pkce.create_code_verifier(64)
session = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["customers:ro"])
url, _ = session.authorization_url(lab.metadata["authorization_endpoint"], code_challenge_method="S256",
                                   code_challenge=pkce.create_code_challenge(verifier, "S256"))
redirect = ConsentPanel(lab, url).decide("Allow")
my_answer = requests.post(lab.endpoint("token"), auth=("fernhollow-reports", "reports-secret"), data={
    "grant_type": "authorization_code",
    "code": parse_qs(urlsplit(redirect).query)["code"][0],
    "redirect_uri": lab.redirect_uri,
    "code_verifier": verifier,
}).json()
exchange.by_hand.check(my_answer)
