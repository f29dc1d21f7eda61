"""The tests' one kit: loopback peers (Twilio, SMTP, push), the browser, the process
harness and the builders (events, rules, clients, transports). Test modules import
from here, never from each other."""
