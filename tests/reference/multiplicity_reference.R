# Reference values for bitframe.analyse.multiplicity: R stats::p.adjust (R Core Team).
# Methods: Bonferroni; Holm (1979) Scand J Stat 6:65-70; Hochberg (1988) Biometrika 75:800-802;
# Benjamini & Hochberg (1995) JRSS-B 57:289-300; Benjamini & Yekutieli (2001) Ann Stat 29:1165-1188.
# Run from the repository root:  Rscript tests/reference/multiplicity_reference.R
suppressPackageStartupMessages(library(jsonlite))
set.seed(42)
vectors <- list(
  single = c(0.03),
  textbook = c(0.01, 0.04, 0.03, 0.005),
  ties = c(0.02, 0.02, 0.02, 0.5, 0.001, 0.001),
  with_na = c(0.04, NA, 0.001, 0.2, NA, 0.03),
  near_one = c(0.9, 0.95, 0.99, 1, 0.6),
  zeros = c(0, 0, 0.05, 1e-12),
  uniform50 = round(runif(50), 6),
  mixed30 = signif(c(rbeta(10, 0.2, 5), runif(20)), 6)
)
methods <- c(none = "none", bonferroni = "bonferroni", holm = "holm", hochberg = "hochberg",
             benjamini_hochberg = "BH", benjamini_yekutieli = "BY")
out <- list()
for (v in names(vectors)) {
  for (m in names(methods)) {
    out[[length(out) + 1]] <- list(vector = v, method = m, r_method = unname(methods[m]),
      p = vectors[[v]], adjusted = p.adjust(vectors[[v]], methods[[m]]), n = NULL)
  }
}
# explicit number of tests larger than the p-values given (R's `n` argument)
for (m in names(methods)) {
  out[[length(out) + 1]] <- list(vector = "textbook", method = m, r_method = unname(methods[m]),
    p = vectors$textbook, adjusted = p.adjust(vectors$textbook, methods[[m]], n = 10), n = 10)
}
writeLines(toJSON(out, auto_unbox = FALSE, digits = NA, na = "null", null = "null", pretty = FALSE),
           "tests/reference/multiplicity/p_adjust.json")
cat("wrote", length(out), "cases\n")
