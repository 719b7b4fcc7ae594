package crm.engines.elasticsearch;

import java.util.List;
import java.util.Map;

import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The "ngram" tokenizer, which Elasticsearch ships in its analysis-common module; Elastic does
 * not publish that module on Maven Central. This registers Lucene's NGramTokenizer under the same
 * name and settings (min_gram, max_gram, bounded by index.max_ngram_diff), without token_chars,
 * which is all the CRM index uses. Any other analysis-common component is absent.
 */
public final class NgramAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("ngram", NgramAnalysisPlugin::ngram);
    }

    private static TokenizerFactory ngram(
            IndexSettings index, Environment environment, String name, Settings settings) {
        int min = settings.getAsInt("min_gram", NGramTokenizer.DEFAULT_MIN_NGRAM_SIZE);
        int max = settings.getAsInt("max_gram", NGramTokenizer.DEFAULT_MAX_NGRAM_SIZE);
        if (max - min > index.getMaxNgramDiff()) {
            throw new IllegalArgumentException("The difference between max_gram and min_gram in NGram Tokenizer must be less"
                    + " than or equal to: [" + index.getMaxNgramDiff() + "] but was [" + (max - min)
                    + "]. This limit can be set by changing the [" + IndexSettings.MAX_NGRAM_DIFF_SETTING.getKey()
                    + "] index level setting.");
        }
        List<String> tokenChars = settings.getAsList("token_chars");
        if (!tokenChars.isEmpty()) {
            throw new IllegalArgumentException("token_chars is not supported by this local engine's ngram tokenizer");
        }
        return TokenizerFactory.newFactory(name, () -> new NGramTokenizer(min, max));
    }
}
