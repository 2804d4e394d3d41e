# 09 · the polling loop (RFC 8628 §3.5): wait the interval before each poll; on slow_down wait
# 5 s longer from then on; authorization_pending means "again"; any other error ends the loop.
# `tv` is the notebook's TV: its requests-oauthlib session, with oauthlib's DeviceClient.
from oauthlib.oauth2 import OAuth2Error

from oauth_lab.exercises import device


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


device.polling.check(poll_for_tokens, tv_client_id)
