package compat;

/** Ends the JVM after a fixed time, so that a hung client never hangs the harness. */
final class Watchdog {
    private Watchdog() {
    }

    static void start(long millis) {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("FAIL: hard deadline of " + millis + " ms passed, client hung");
            System.err.flush();
            Runtime.getRuntime().halt(3);
        }, "compat-watchdog");
        t.setDaemon(true);
        t.start();
    }
}
