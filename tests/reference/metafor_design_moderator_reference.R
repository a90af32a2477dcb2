# Reference for issue 19 item 7: the site's design (randomised or a non-randomised design) as a
# moderator of the programme synthesis. metafor::rma(yi, vi, mods = ~ factor(design)) with
# factor()'s alphabetical levels (reference: difference_in_differences), for bitframe's default
# (REML, test = "adhoc") and the z and Knapp-Hartung tests; QM is the test that the design
# levels differ.
#
# The nine sites are made-up mean differences in a wellbeing score (SWEMWBS points) with their
# sampling variances: three randomised trials, two difference-in-differences roll-outs, two
# interrupted time series and two pre/post surveys.
#
# Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
# Journal of Statistical Software 36(3), 1-48. doi:10.18637/jss.v036.i03
#
# Run from the repository root:   Rscript tests/reference/metafor_design_moderator_reference.R
# Writes tests/reference/metafor_design_moderator_reference.json (inputs included).
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

sites <- data.frame(
  site = c("r1", "r2", "r3", "d1", "d2", "i1", "i2", "p1", "p2"),
  design = c("randomised", "randomised", "randomised", "difference_in_differences", "difference_in_differences",
             "interrupted_time_series", "interrupted_time_series", "pre_post", "pre_post"),
  yi = c(0.42, 0.95, 0.18, 1.10, 0.64, 1.45, 0.88, 2.05, 1.62),
  vi = c(0.090, 0.120, 0.070, 0.210, 0.160, 0.300, 0.250, 0.140, 0.110),
  stringsAsFactors = FALSE
)

fit_one <- function(test) {
  fit <- rma(yi, vi, mods = ~ factor(design), data = sites, method = "REML", test = test)
  X <- model.matrix(~ factor(design), data = sites)
  list(method = "REML", test = test, terms = I(colnames(X)),
       estimate = I(as.numeric(fit$beta)), se = I(fit$se), zval = I(fit$zval), pval = I(fit$pval),
       ci_lb = I(fit$ci.lb), ci_ub = I(fit$ci.ub), tau2 = fit$tau2, I2 = fit$I2, QE = fit$QE, QEp = fit$QEp,
       QM = fit$QM, QMp = fit$QMp, QMdf = I(as.numeric(fit$QMdf)), k = fit$k)
}

out <- list(
  generator = "tests/reference/metafor_design_moderator_reference.R",
  metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  sites = sites,
  fits = list(fit_one("adhoc"), fit_one("z"), fit_one("knha"))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", dataframe = "rows"),
           "tests/reference/metafor_design_moderator_reference.json")
cat("wrote tests/reference/metafor_design_moderator_reference.json\n")
