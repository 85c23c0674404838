package compat;

import java.util.Arrays;

/**
 * Entry point of the Java scenario programs: {@code java -cp ... compat.Main <scenario> [--key value]...}.
 *
 * <p>The classes are compiled against the 4.9.8 client API and run unchanged with the 4.9.8 or the 5.5.0
 * jars on the classpath. Anything whose package moved between 4.x and 5.x (route data, cluster info, KV
 * tables) is only touched through {@link Reflect}, so the same bytecode links against both.
 *
 * <p>Exit status 0 means the scenario passed. On failure the last line on stderr starts with {@code FAIL:}.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: compat.Main <version|send-push|admin-batch> [--key value]...");
            System.exit(2);
        }
        Args args = Args.parse(Arrays.copyOfRange(argv, 1, argv.length));
        // Whatever a client library does, this process must end: the runner also has a timeout,
        // but a clear message from here is easier to read than a kill.
        Watchdog.start(args.getLong("hard-timeout-ms", args.getLong("timeout-ms", 60_000) + 20_000));
        int rc;
        try {
            switch (argv[0]) {
                case "version":
                    System.out.println(ClientVersion.describe());
                    rc = 0;
                    break;
                case "send-push":
                    rc = SendPush.run(args);
                    break;
                case "admin-batch":
                    rc = AdminBatch.run(args);
                    break;
                default:
                    System.err.println("FAIL: unknown scenario " + argv[0]);
                    rc = 2;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.println("FAIL: " + t);
            rc = 1;
        }
        System.out.flush();
        System.err.flush();
        // Client libraries leave non-daemon threads (Netty event loops, timers) whose graceful
        // shutdown takes seconds; the verdict is known, so leave now.
        Runtime.getRuntime().halt(rc);
    }
}
