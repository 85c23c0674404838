"""The compat harness: runs the official RocketMQ clients and mqadmin against our
nameserver/broker and the Java reference, and reports PASS/FAIL per scenario.

Layout:
    main.py       command line, scenario loop, summary line
    scenario.py   registry, Context (clusters on demand, client launchers)
    servers.py    Java / ours nameserver and broker processes, Cluster
    toolchain.py  Maven / Go / cargo builds, cached in compat-tests/.cache
    remoting.py   minimal remoting client, only for readiness checks
    util.py       processes (own process groups), ports, log tails
    config.py     versions, JVM flags, broker.conf defaults, time limits
    scenarios/    the scenarios, one module per area
"""
