package compat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.apache.rocketmq.tools.command.MQAdminStartup;
import org.apache.rocketmq.tools.command.SubCommand;

/**
 * Runs a script of mqadmin commands in one JVM and saves what each one printed.
 *
 * <p>Each command goes through {@code MQAdminStartup.main0}, the same entry point the {@code mqadmin}
 * script uses, so the output is exactly what a user sees. One JVM per script instead of one per command
 * saves several seconds per command (JVM start plus the client's graceful Netty shutdown).
 *
 * <p>Script ({@code --script FILE}): one command per line, arguments separated by TAB characters, blank
 * lines and lines starting with {@code #} ignored. Lines whose first argument starts with {@code compat:}
 * are helpers implemented here rather than mqadmin sub-commands:
 * <ul>
 *   <li>{@code compat:wait-route TOPIC present|absent TIMEOUT_MS}: poll the nameserver's route</li>
 *   <li>{@code compat:kv-get NAMESPACE KEY}: print {@code getKVConfig}</li>
 *   <li>{@code compat:kv-list NAMESPACE}: print {@code getKVListByNamespace}, sorted</li>
 *   <li>{@code compat:stats-wait BROKER STATS_NAME STATS_KEY MIN TIMEOUT_MS}: poll
 *   {@code viewBrokerStatsData} until its minute window sums at least MIN (the broker samples every 10 s),
 *   print that sum, or the error of the call</li>
 *   <li>{@code compat:sleep MILLIS}</li>
 *   <li>{@code compat:time-span TOPIC GROUP}, {@code compat:time-span-at BROKER TOPIC GROUP},
 *       {@code compat:system-topics BROKER}, {@code compat:sub-config BROKER GROUP},
 *       {@code compat:send-delayed TOPIC LEVEL}, {@code compat:delay-offsets BROKER LEVEL TIMEOUT_MS}:
 *       admin API requests no mqadmin command sends (see {@link AdminQueries})</li>
 *   <li>{@code compat:command CLASS ARGS...}: run the tools' sub-command class {@code CLASS} that
 *   {@code MQAdminStartup} does not list (e.g. {@code GetConsumerStatusCommand}) through
 *   {@code main0}, after adding it to the command table</li>
 * </ul>
 * Helpers use {@code --ns}. The output of command {@code i} (stdout and stderr interleaved) is written to
 * {@code --out DIR/i.out} once the command ends; a command still running after
 * {@code --command-timeout-ms} gets {@code i.out} containing {@code COMPAT-TIMEOUT}.
 */
final class AdminBatch {
    private AdminBatch() {
    }

    static int run(Args a) throws Exception {
        List<String[]> script = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(a.get("script")), StandardCharsets.UTF_8)) {
            if (line.trim().isEmpty() || line.startsWith("#")) {
                continue;
            }
            script.add(line.split("\t", -1));
        }
        Path out = Paths.get(a.get("out"));
        Files.createDirectories(out);
        String ns = a.get("ns", null);
        long commandTimeout = a.getLong("command-timeout-ms", 30_000);
        // A server that hangs would otherwise cost the timeout once per remaining command.
        int maxTimeouts = a.getInt("max-timeouts", 2);
        int timeouts = 0;

        PrintStream realOut = System.out;
        PrintStream realErr = System.err;
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "compat-admin-command");
            t.setDaemon(true);
            return t;
        });
        for (int i = 0; i < script.size(); i++) {
            String[] cmd = script.get(i);
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            PrintStream capture = new PrintStream(buf, true, "UTF-8");
            System.setOut(capture);
            System.setErr(capture);
            String text;
            long started = System.nanoTime();
            Future<?> f = pool.submit(() -> {
                if (cmd[0].equals("compat:command")) {
                    SubCommand sub = (SubCommand) Class.forName(cmd[1]).getDeclaredConstructor().newInstance();
                    MQAdminStartup.initCommand(sub);
                    String[] args = java.util.Arrays.copyOfRange(cmd, 1, cmd.length);
                    args[0] = sub.commandName();
                    MQAdminStartup.main0(args, null);
                } else if (cmd[0].startsWith("compat:")) {
                    helper(cmd, ns, capture);
                } else {
                    MQAdminStartup.main0(cmd, null);
                }
                return null;
            });
            boolean timedOut = false;
            try {
                f.get(commandTimeout, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                timedOut = true;
            } catch (java.util.concurrent.ExecutionException e) {
                e.getCause().printStackTrace(capture);
            }
            capture.flush();
            System.setOut(realOut);
            System.setErr(realErr);
            text = buf.toString("UTF-8");
            if (timedOut) {
                text = text + "\nCOMPAT-TIMEOUT after " + commandTimeout + " ms\n";
            }
            Files.write(out.resolve(i + ".out"), text.getBytes(StandardCharsets.UTF_8));
            realOut.printf("[%d] %s (%d ms)%n", i, String.join(" ", cmd),
                (System.nanoTime() - started) / 1_000_000);
            if (timedOut && ++timeouts >= maxTimeouts) {
                realErr.println("FAIL: " + timeouts + " commands timed out, the rest of the script was skipped");
                return 1;
            }
        }
        realOut.println("OK");
        return 0;
    }

    private static void helper(String[] cmd, String ns, PrintStream out) throws Exception {
        if (cmd[0].equals("compat:sleep")) {
            Thread.sleep(Long.parseLong(cmd[1]));
            return;
        }
        DefaultMQAdminExt admin = Routes.startAdmin(ns, "compat-helper-" + System.nanoTime());
        try {
            switch (cmd[0]) {
                case "compat:wait-route": {
                    boolean present = cmd[2].equals("present");
                    boolean ok = Routes.waitRoute(admin, cmd[1], present, Long.parseLong(cmd[3]));
                    out.println(ok ? "route " + cmd[2] : "route still not " + cmd[2] + " after " + cmd[3] + " ms");
                    break;
                }
                case "compat:kv-get":
                    try {
                        out.println("value=" + admin.getKVConfig(cmd[1], cmd[2]));
                    } catch (Exception e) {
                        out.println("getKVConfig failed: " + e);
                    }
                    break;
                case "compat:kv-list":
                    try {
                        Object table = Reflect.call(admin, "getKVListByNamespace", cmd[1]);
                        @SuppressWarnings("unchecked")
                        Map<String, String> m = (Map<String, String>) Reflect.call(table, "getTable");
                        out.println("table=" + new TreeMap<>(m));
                    } catch (Exception e) {
                        out.println("getKVListByNamespace failed: " + e);
                    }
                    break;
                case "compat:stats-wait": {
                    long min = Long.parseLong(cmd[4]);
                    long deadline = System.currentTimeMillis() + Long.parseLong(cmd[5]);
                    String line;
                    while (true) {
                        try {
                            Object data = Reflect.call(admin, "viewBrokerStatsData", cmd[1], cmd[2], cmd[3]);
                            Object minute = Reflect.call(data, "getStatsMinute");
                            long sum = (Long) Reflect.call(minute, "getSum");
                            line = cmd[2] + " " + cmd[3] + " minute sum=" + sum;
                            if (sum >= min) {
                                break;
                            }
                        } catch (org.apache.rocketmq.client.exception.MQClientException e) {
                            line = cmd[2] + " " + cmd[3] + " refused: code=" + e.getResponseCode() + " remark="
                                + e.getErrorMessage();
                            if (min <= 0) {
                                break;
                            }
                        }
                        if (System.currentTimeMillis() > deadline) {
                            break;
                        }
                        Thread.sleep(500);
                    }
                    out.println(line);
                    break;
                }
                case "compat:time-span":
                    AdminQueries.timeSpan(admin, cmd[1], cmd[2], out);
                    break;
                case "compat:time-span-at":
                    AdminQueries.timeSpanAt(admin, cmd[1], cmd[2], cmd[3], out);
                    break;
                case "compat:system-topics":
                    AdminQueries.systemTopics(admin, cmd[1], out);
                    break;
                case "compat:sub-config":
                    AdminQueries.subConfig(admin, cmd[1], cmd[2], out);
                    break;
                case "compat:send-delayed":
                    AdminQueries.sendDelayed(ns, cmd[1], Integer.parseInt(cmd[2]), out);
                    break;
                case "compat:delay-offsets":
                    AdminQueries.delayOffsets(admin, cmd[1], cmd[2], Long.parseLong(cmd[3]), out);
                    break;
                default:
                    out.println("unknown helper " + cmd[0]);
            }
        } finally {
            admin.shutdown();
        }
    }
}
