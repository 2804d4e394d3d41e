# 12 · what the server answers. With rotation each refresh spends the token it presents; a spent
# token that comes back is a theft, whoever brings it, and the whole family is revoked (RFC 9700
# §4.14.2). A refresh may ask for less than was granted, never more (RFC 6749 §6).
from oauth_lab.exercises import security_lab

predicted = {
    "the thief refreshes first": 200,  # nothing used twice yet: the server rotates it for the thief
    "then the app refreshes": 400,  # the app's token was spent by the thief: invalid_grant, family revoked
    "then the thief calls the API": 401,  # the family's access tokens went with it
    "the app refreshes asking for customers:ro only": 200,  # narrower than the grant: allowed
}

security_lab.refresh_answers.check(predicted)
