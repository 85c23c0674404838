"""Versions and fixed settings of the compat harness, in one place."""

# Official Java client / admin tools versions every Java scenario runs with.
# The scenario sources are compiled against the first one.
JAVA_CLIENT_VERSIONS = ("4.9.8", "5.5.0")

# mqadmin (rocketmq-tools) versions used by the mqadmin diff scenarios.
MQADMIN_VERSIONS = ("4.9.8", "5.5.0")

# Version of the Java reference nameserver and broker. rocketmq-namesrv and
# rocketmq-broker 4.9.8 are not published on Maven Central (only client, common,
# remoting, tools, ... are), so the reference is 5.5.0, which runs fine with the
# small heaps below.
REFERENCE_VERSION = "5.5.0"

# rocketmq-client-go version (pinned in go/go.mod; informational here).
GO_CLIENT_VERSION = "2.1.2"

# JVM settings. Explicit and small: CI has 2 cores and several JVMs run at once.
NAMESRV_JVM = ["-Xms64m", "-Xmx256m", "-XX:MaxDirectMemorySize=128m", "-XX:+UseSerialGC"]
BROKER_JVM = ["-Xms256m", "-Xmx512m", "-XX:MaxDirectMemorySize=256m", "-XX:+UseSerialGC"]
CLIENT_JVM = ["-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]

CLUSTER_NAME = "DefaultCluster"
BROKER_NAME = "broker-a"

# Broker settings common to the Java broker and ours (Java broker.conf keys).
BROKER_CONF = {
    "brokerClusterName": CLUSTER_NAME,
    "brokerName": BROKER_NAME,
    "brokerId": 0,
    "brokerIP1": "127.0.0.1",
    "brokerRole": "ASYNC_MASTER",
    "flushDiskType": "ASYNC_FLUSH",
    "autoCreateTopicEnable": "true",
    "autoCreateSubscriptionGroup": "true",
    "mappedFileSizeCommitLog": 64 * 1024 * 1024,
    "mappedFileSizeConsumeQueue": 30000 * 20,
    "mappedFileSizeTimerLog": 16 * 1024 * 1024,
    "deleteWhen": "04",
    "fileReservedTime": 48,
    "diskMaxUsedSpaceRatio": 95,
}

# Time limits (seconds).
SERVER_START_TIMEOUT = 90
BROKER_REGISTER_TIMEOUT = 60
CLIENT_SCENARIO_TIMEOUT = 90
MQADMIN_COMMAND_TIMEOUT = 30
