# 12 · a careful callback. An answer to a request the app never made is refused by comparing
# state (RFC 6749 §10.12; requests-oauthlib does it when handed the whole redirect); an answer from
# another server than the one the app asked is refused by comparing iss (RFC 9207 §2.4).
from urllib.parse import parse_qsl, urlsplit

from oauth_lab import setup

no_pkce = setup(port=lab.port + 2, make_current=False, require_pkce=False)  # the CSRF section's server


def careful_callback(app, redirect, issuer, token_endpoint):
    answered_by = dict(parse_qsl(urlsplit(redirect).query)).get("iss")
    if answered_by != issuer:  # simple string comparison (RFC 3986 §6.2.1)
        raise ValueError(f"answer from {answered_by}, but the request went to {issuer}: refused")
    return app.fetch_token(token_endpoint, authorization_response=redirect, include_client_id=True)


my_answer = careful_callback
