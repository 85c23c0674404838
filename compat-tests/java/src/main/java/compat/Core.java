package compat;

import java.util.Arrays;

/**
 * Entry point of the broker-core scenarios (issue 4): {@code java -cp ... compat.Core <case> [--key value]...}.
 *
 * <p>Cases: {@code send-modes}, {@code groups} ({@code --mode clustering|broadcasting}), {@code lite-pull}
 * ({@code --mode subscribe|assign}), {@code ordered}, {@code tags}, {@code restart}, {@code bulk}, {@code reply}, {@code trace},
 * and the delivery cases {@code retry-dlq}, {@code delay}, {@code transaction}, {@code orderly-lock}, {@code queries}
 * ({@link CoreDelivery}); see the class of
 * each. Every case takes {@code --ns}, {@code --broker} (the broker address, topics are created there),
 * {@code --broker-name} and {@code --timeout-ms}.
 *
 * <p>Like {@link Main}: exit status 0 and {@code OK} as the last line mean the scenario passed; otherwise the last
 * line on stderr starts with {@code FAIL:}.
 */
public final class Core {
    private Core() {
    }

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: compat.Core <case> [--key value]...");
            System.exit(2);
        }
        Args args = Args.parse(Arrays.copyOfRange(argv, 1, argv.length));
        Watchdog.start(args.getLong("hard-timeout-ms", args.getLong("timeout-ms", 60_000) + 20_000));
        int rc = 1;
        long t0 = System.currentTimeMillis();
        try {
            System.out.println("client " + ClientVersion.describe());
            switch (argv[0]) {
                case "send-modes":
                    CoreSendModes.run(args);
                    break;
                case "groups":
                    CoreGroups.run(args);
                    break;
                case "lite-pull":
                    CoreLitePull.run(args);
                    break;
                case "ordered":
                    CoreOrdered.run(args);
                    break;
                case "tags":
                    CoreTags.run(args);
                    break;
                case "timer":
                    CoreTimer.run(args);
                    break;
                case "restart":
                    CoreRestart.run(args);
                    break;
                case "bulk":
                    CoreBulk.run(args);
                    break;
                case "retry-dlq":
                    CoreDelivery.retryDlq(args);
                    break;
                case "delay":
                    CoreDelivery.delay(args);
                    break;
                case "transaction":
                    CoreDelivery.transaction(args);
                    break;
                case "orderly-lock":
                    CoreDelivery.orderlyLock(args);
                    break;
                case "queries":
                    CoreDelivery.queries(args);
                    break;
                case "reply":
                    CoreReply.run(args);
                    break;
                case "trace":
                    CoreTrace.run(args);
                    break;
                default:
                    throw new CoreSupport.Failure("unknown case " + argv[0]);
            }
            System.out.println("scenario took " + (System.currentTimeMillis() - t0) + " ms");
            System.out.println("OK");
            rc = 0;
        } catch (CoreSupport.Failure f) {
            System.out.flush();
            System.err.println("FAIL: " + f.getMessage());
        } catch (Throwable t) {
            t.printStackTrace();
            System.out.flush();
            System.err.println("FAIL: " + t);
        }
        System.out.flush();
        System.err.flush();
        // The verdict is known; client libraries' graceful shutdown takes seconds.
        Runtime.getRuntime().halt(rc);
    }
}
