package compat;

import java.util.HashMap;
import java.util.Map;

/** {@code --key value} command-line options. */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    static Args parse(String[] argv) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i];
            if (!k.startsWith("--")) {
                throw new IllegalArgumentException("expected --option, got " + k);
            }
            if (i + 1 >= argv.length) {
                throw new IllegalArgumentException("missing value for " + k);
            }
            a.values.put(k.substring(2), argv[++i]);
        }
        return a;
    }

    String get(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing --" + key);
        }
        return v;
    }

    String get(String key, String dflt) {
        return values.getOrDefault(key, dflt);
    }

    int getInt(String key, int dflt) {
        return values.containsKey(key) ? Integer.parseInt(values.get(key)) : dflt;
    }

    long getLong(String key, long dflt) {
        return values.containsKey(key) ? Long.parseLong(values.get(key)) : dflt;
    }
}
