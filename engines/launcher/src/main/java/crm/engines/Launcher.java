package crm.engines;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** What both single nodes share: their options, their log configuration, running until stopped. */
public final class Launcher {

    /** INFO and above to the console, which scripts/engines.py sends to the node's log file. */
    static final String LOG_CONFIG = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "");

    private Launcher() {}

    /** The command line: --home DIR [--data DIR] --http-port N --transport-port N [--watch-stdin true]. */
    public record Options(Path home, Path data, Path config, String httpPort, String transportPort,
                          String clusterName, boolean watchStdin) {

        public static Options parse(String[] args) throws IOException {
            Map<String, String> given = new HashMap<>();
            for (int i = 0; i < args.length; i += 2) {
                if (!args[i].startsWith("--") || i + 1 >= args.length) {
                    throw new IllegalArgumentException("expected --name value, got " + args[i]);
                }
                given.put(args[i].substring(2), args[i + 1]);
            }
            Path home = Path.of(require(given, "home")).toAbsolutePath();
            Path data = Path.of(given.getOrDefault("data", home.resolve("data").toString())).toAbsolutePath();
            Path config = home.resolve("config");
            Files.createDirectories(config);
            Files.createDirectories(data);
            Path logConfig = config.resolve("log4j2.properties");
            if (!Files.exists(logConfig)) {
                Files.writeString(logConfig, LOG_CONFIG);
            }
            return new Options(home, data, config, require(given, "http-port"), require(given, "transport-port"),
                    given.getOrDefault("cluster-name", "crm-local"),
                    Boolean.parseBoolean(given.getOrDefault("watch-stdin", "false")));
        }

        private static String require(Map<String, String> given, String name) {
            String value = given.get(name);
            if (value == null) {
                throw new IllegalArgumentException("--" + name + " is required");
            }
            return value;
        }
    }

    /** A started node's way to stop. */
    public interface Node {
        void close() throws IOException;

        boolean awaitClose(long timeout, TimeUnit unit) throws InterruptedException;
    }

    /** Something that starts the node. */
    public interface Start {
        void start() throws Exception;
    }

    /**
     * Start the node, then keep the JVM alive until SIGTERM (or, when watching, the end of
     * standard input: the process that started the node has gone), closing the node cleanly.
     */
    public static void runUntilStopped(Options options, Node node, Start start) throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException | RuntimeException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "crm-node-shutdown"));
        start.start();
        if (options.watchStdin()) {
            Thread watcher = new Thread(() -> {
                try (InputStream in = System.in) {
                    while (in.read() >= 0) {
                        // Nothing is sent: reading only waits for the end of the stream.
                    }
                } catch (IOException e) {
                    // The same as the end of the stream.
                }
                System.exit(0);
            }, "crm-stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        // The node's threads are daemons: this one keeps the JVM alive until it is stopped.
        stopped.await();
    }
}
