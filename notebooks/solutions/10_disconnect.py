# 10 · disconnect: the app tells the server it no longer needs its tokens (RFC 7009 §2.1), with
# Authlib's client (requests-oauthlib has no revocation). Revoking the refresh token ends the
# grant: this server revokes its access tokens with it.
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession

from oauth_lab.exercises import revocation
from oauth_lab.flows import authorization_code_flow

app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")

client = AuthlibSession("fernhollow-reports", "reports-secret")  # authenticates with HTTP Basic
client.revoke_token(lab.endpoint("revocation"), token=app.token["refresh_token"], token_type_hint="refresh_token")
my_answer = app.token
revocation.disconnect.check(my_answer)
