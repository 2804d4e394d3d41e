# 10 · an API that introspects (RFC 7662): it authenticates as the resource server, asks about
# the token, and accepts only an active access token meant for it — a refresh token is active
# too, but carries no aud for this API.
import requests


def accepts(access_token):
    answer = requests.post(lab.endpoint("introspection"), data={"token": access_token},
                           auth=("agent-api", "agent-api-secret")).json()
    return answer.get("active") is True and answer.get("aud") == lab.api_audience


my_answer = accepts
