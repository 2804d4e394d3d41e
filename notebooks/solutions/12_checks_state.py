# 12 · a callback that checks state. Handed the whole redirect, requests-oauthlib compares its state
# with the state of the app's own request (RFC 6749 §10.12) and raises before any token request.
from oauth_lab.exercises import security_lab


def callback(app, redirect, token_endpoint):
    return app.fetch_token(token_endpoint, authorization_response=redirect, include_client_id=True)


security_lab.checks_state.check(callback)
