# 12 · a careful callback. An answer from another server than the one the app asked is refused by
# comparing iss with that server's issuer, and so is an answer without iss from a server that says
# it always sends one (RFC 9207 §2.4); then requests-oauthlib compares state (RFC 6749 §10.12).
from urllib.parse import parse_qsl, urlsplit

from oauth_lab.exercises import security_lab


def careful_callback(app, redirect, metadata):
    answered_by = dict(parse_qsl(urlsplit(redirect).query)).get("iss")
    if answered_by is None and metadata.get("authorization_response_iss_parameter_supported"):
        raise ValueError(f"no iss, although {metadata['issuer']} names itself in every answer: refused")
    if answered_by is not None and answered_by != metadata["issuer"]:  # simple string comparison
        raise ValueError(f"answer from {answered_by}, but the request went to {metadata['issuer']}: refused")
    return app.fetch_token(metadata["token_endpoint"], authorization_response=redirect, include_client_id=True)


security_lab.careful_callback.check(careful_callback)
