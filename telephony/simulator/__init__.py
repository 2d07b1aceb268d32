"""A PBX that speaks the real AMI wire protocol, for the demo, the tests and load."""
