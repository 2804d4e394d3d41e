# 10 · an API that introspects (RFC 7662): it authenticates as the resource server, asks about
# the token, and serves the request only when the answer's `active` is true. (The server tells an
# API that a refresh token is not active: refresh tokens are never sent to an API, RFC 6749 §1.5.)
# It also checks that the token was meant for this API, as RFC 9700 §2.3 asks of every API.
import requests

from oauth_lab.exercises import revocation


def accepts(access_token):
    answer = requests.post(lab.endpoint("introspection"), data={"token": access_token},
                           auth=("agent-api", "agent-api-secret")).json()
    return answer["active"] is True and answer["aud"] == lab.api_audience


revocation.introspecting_api.check(accepts)
