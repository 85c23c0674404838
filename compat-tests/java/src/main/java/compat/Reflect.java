package compat;

import java.lang.reflect.Method;

/**
 * Calls by name. Used for every client API whose signature names a class that moved between 4.9.x
 * ({@code org.apache.rocketmq.common.protocol...}) and 5.x ({@code org.apache.rocketmq.remoting.protocol...}).
 */
final class Reflect {
    private Reflect() {
    }

    static Object call(Object target, String method, Object... args) throws Exception {
        for (Method m : target.getClass().getMethods()) {
            if (m.getName().equals(method) && m.getParameterCount() == args.length) {
                try {
                    return m.invoke(target, args);
                } catch (java.lang.reflect.InvocationTargetException e) {
                    Throwable c = e.getCause();
                    if (c instanceof Exception) {
                        throw (Exception) c;
                    }
                    throw e;
                }
            }
        }
        throw new NoSuchMethodException(target.getClass().getName() + "." + method + "/" + args.length);
    }
}
