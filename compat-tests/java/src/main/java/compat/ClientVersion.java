package compat;

import org.apache.rocketmq.common.MQVersion;

/**
 * The version of the client jars actually on the classpath. {@code MQVersion.CURRENT_VERSION} is a
 * compile-time constant, so it is read reflectively: a plain field access would be inlined by javac and
 * always say 4.9.8.
 */
final class ClientVersion {
    private ClientVersion() {
    }

    static String describe() throws Exception {
        int v = MQVersion.class.getField("CURRENT_VERSION").getInt(null);
        return (String) MQVersion.class.getMethod("getVersionDesc", int.class).invoke(null, v);
    }
}
