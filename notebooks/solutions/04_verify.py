# 04 · verify an access token yourself: the server's public keys (JWKS), then the signature.
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from requests_oauthlib import OAuth2Session

from oauth_lab.widgets.consent_panel import ConsentPanel

session = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["customers:ro"], pkce="S256")
url, _ = session.authorization_url(lab.metadata["authorization_endpoint"])
token = session.fetch_token(lab.endpoint("token"), client_secret="reports-secret",
                            authorization_response=ConsentPanel(lab, url).decide("Allow"))
jwks_url = lab.metadata["jwks_uri"].replace(lab.issuer, lab.url, 1)  # the back-channel address
keys = KeySet.import_key_set(requests.get(jwks_url).json())
my_answer = jwt.decode(token["access_token"], keys, algorithms=["RS256"]).claims
