#!/usr/bin/env python3
# The ingress-nginx controller image's /nginx-ingress-controller in the netns lab; see
# _ingress_controller.py. The program is a module beside this file so that Python keeps it compiled.
from _ingress_controller import main

main()
