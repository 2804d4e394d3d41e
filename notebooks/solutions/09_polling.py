# 09 · the polling loop (RFC 8628 §3.5): wait the interval before each poll; on slow_down wait
# 5 s longer from then on; authorization_pending means "again"; any other error ends the loop.
import requests
from oauthlib.oauth2 import DeviceClient, OAuth2Error
from requests_oauthlib import OAuth2Session

tv_client_id = requests.post(lab.endpoint("registration"), json={  # the TV, as in the notebook
    "client_name": "Fernhollow Shop TV", "token_endpoint_auth_method": "none",
    "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
    "scope": "chats--access:ro customers:ro"}).json()["client_id"]
tv = OAuth2Session(client=DeviceClient(tv_client_id))


def poll_for_tokens(device_code, interval, wait):
    while True:
        wait(interval)
        try:
            return tv.fetch_token(lab.endpoint("token"), device_code=device_code, include_client_id=True)
        except OAuth2Error as error:
            if error.error == "slow_down":
                interval += 5
            elif error.error != "authorization_pending":
                raise  # access_denied, expired_token…: stop, and let the TV tell the user


my_answer = poll_for_tokens
