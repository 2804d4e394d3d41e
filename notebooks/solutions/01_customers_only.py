# 01 · customers only, for the public browser app: no secret to send, only its client_id.
from oauth_lab.exercises import password
from oauth_lab.flows import authorization_code_flow

widget = authorization_code_flow(lab, "fernhollow-widget", ["customers:ro"])
my_answer = widget.token
password.customers_only.check(my_answer)
