#!/usr/bin/env python3
# agnhost, the program of the image registry.k8s.io/e2e-test-images/agnhost: see _agnhost.py.
# The program is a module beside this file so that Python keeps it compiled between runs.
import sys

from _agnhost import main

main(sys.argv[1:])
