package crm.engines.elasticsearch;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import crm.engines.Launcher;

/** One Elasticsearch node on 127.0.0.1 with the netty4 transport module and the ngram tokenizer. */
public final class SingleNode {

    static final List<Class<? extends Plugin>> MODULES = List.of(Netty4Plugin.class, NgramAnalysisPlugin.class);

    private SingleNode() {}

    public static void main(String[] args) throws Exception {
        Launcher.Options options = Launcher.Options.parse(args);
        Settings settings = Settings.builder()
                .put("cluster.name", options.clusterName())
                .put("node.name", "crm-local")
                .put("path.home", options.home().toString())
                .put("path.data", options.data().toString())
                .put("path.logs", options.home().resolve("logs").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", options.httpPort())
                .put("transport.port", options.transportPort())
                .put("discovery.type", "single-node")
                .build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Map.of(), options.config(), () -> "crm-local");
        LogConfigurator.registerErrorListener();
        LogConfigurator.configure(environment, true);
        Files.createDirectories(environment.modulesDir());
        Files.createDirectories(environment.pluginsDir());
        Node node = new ClasspathPluginsNode(environment, MODULES);
        Launcher.Node stop = new Launcher.Node() {
            @Override
            public void close() throws IOException {
                node.close();
            }

            @Override
            public boolean awaitClose(long timeout, TimeUnit unit) throws InterruptedException {
                return node.awaitClose(timeout, unit);
            }
        };
        Launcher.runUntilStopped(options, stop, node::start);
    }
}
