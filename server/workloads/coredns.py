#!/usr/bin/env python3
# The `coredns` image's entrypoint in the netns lab: `coredns.py -conf /etc/coredns/Corefile`; see
# _coredns.py. The program is a module beside this file so that Python keeps it compiled.
from _coredns import main

main()
