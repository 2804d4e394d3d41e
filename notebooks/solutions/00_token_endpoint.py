# 00 · token endpoint: read it from the server's metadata, never type it.
from oauth_lab.exercises import start_here

my_answer = metadata["token_endpoint"]
start_here.token_endpoint.check(my_answer, metadata)
