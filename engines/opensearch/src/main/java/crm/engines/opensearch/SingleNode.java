package crm.engines.opensearch;

import java.nio.file.Files;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.join.ParentJoinPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin;
import org.opensearch.transport.Netty4Plugin;

import crm.engines.Launcher;

/**
 * One OpenSearch node on 127.0.0.1, its modules loaded from the classpath (Node's constructor
 * taking classpath plugins is protected, hence the subclass). Node already has the close and
 * awaitClose the launcher stops it with.
 */
public final class SingleNode extends Node implements Launcher.Node {

    /** The modules of an official distribution that this node runs, as jars on the classpath. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
            Netty4Plugin.class,
            CommonAnalysisPlugin.class,
            PainlessPlugin.class,
            ReindexPlugin.class,
            MapperExtrasPlugin.class,
            ParentJoinPlugin.class,
            MatrixAggregationPlugin.class);

    private SingleNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

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
        LogConfigurator.configure(environment);
        Files.createDirectories(environment.modulesFile());
        Files.createDirectories(environment.pluginsFile());
        SingleNode node = new SingleNode(environment, MODULES);
        Launcher.runUntilStopped(options, node, node::start);
    }
}
