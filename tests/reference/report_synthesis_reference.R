# Reference values for the programme report's cross-site synthesis (bitframe.report.programme),
# computed with metafor::rma() and predict() from the fixture results files.
#
# Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
# Journal of Statistical Software 36(3), 1-48. doi:10.18637/jss.v036.i03
# Hedges' g: Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009), Introduction to
# Meta-Analysis, Wiley, chapter 4 (J = 1 - 3 / (4 df - 1), df = n1 + n2 - 2).
#
# Run from the repository root:   Rscript tests/reference/report_synthesis_reference.R
# Reads  tests/reference/report_synthesis/results/*.json (contract-shaped analysis results)
# Writes tests/reference/report_synthesis/synthesis_reference.json
#
# The groups below are written out by hand; the fixture's programme file declares the same five
# as synthesis families (issue 16: nothing is pooled unless declared), so the test checks which
# contrasts each family takes as well as the numbers.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

dir <- "tests/reference/report_synthesis"
res <- list()
for (f in list.files(file.path(dir, "results"), pattern = "\\.json$", full.names = TRUE)) {
  r <- fromJSON(f, simplifyVector = FALSE)
  res[[r$trial_id]] <- r
}

find_row <- function(rows, outcome, arm, scale = NULL) {
  for (r in rows) {
    if (r$outcome == outcome && r$arm == arm && (is.null(scale) || r$scale == scale) &&
        (is.null(r$method) || r$method == "analytic")) return(r)
  }
  stop(paste("no row", outcome, arm, scale))
}
summ <- function(trial, outcome, arm) {
  for (s in res[[trial]]$outcome_summaries) if (s$outcome == outcome && s$arm == arm) return(s)
  stop(paste("no summary", trial, outcome, arm))
}

# Risk difference or mean difference: the pre-registered estimate and its standard error.
diff_m <- function(trial, outcome, arm) {
  e <- find_row(res[[trial]]$effects, outcome, arm)
  list(trial = trial, outcome = outcome, arm = arm, yi = e$estimate, sei = e$std_error)
}
# Log rate ratio from an additional Poisson row on the log scale.
lrr_additional <- function(trial, outcome, arm) {
  e <- find_row(res[[trial]]$additional, outcome, arm, "log_rate_ratio")
  list(trial = trial, outcome = outcome, arm = arm, yi = e$estimate, sei = e$std_error)
}
# Log rate ratio from a rate-ratio row given with its confidence interval.
lrr_from_ci <- function(trial, outcome, arm) {
  e <- find_row(res[[trial]]$effects, outcome, arm, "rate_ratio")
  z <- qnorm(0.5 + e$ci_level / 2)
  list(trial = trial, outcome = outcome, arm = arm, yi = log(e$estimate),
       sei = (log(e$ci_upper) - log(e$ci_lower)) / (2 * z))
}
# Hedges' g with the model's standard error scaled by the pooled SD.
hedges_g <- function(trial, outcome, arm, control) {
  e <- find_row(res[[trial]]$effects, outcome, arm)
  a <- summ(trial, outcome, arm); c0 <- summ(trial, outcome, control)
  df <- a$n + c0$n - 2
  sp <- sqrt(((a$n - 1) * a$sd^2 + (c0$n - 1) * c0$sd^2) / df)
  J <- 1 - 3 / (4 * df - 1)
  list(trial = trial, outcome = outcome, arm = arm, yi = J * e$estimate / sp, sei = J * e$std_error / sp)
}

groups <- list(
  list(key = "outcome-attended", measure = "risk_difference", rows = list(
    diff_m("sms-link-worker", "attended", "sms"), diff_m("sms-south", "attended", "sms"))),
  list(key = "outcome-wellbeing", measure = "mean_difference", rows = list(
    diff_m("sms-link-worker", "wellbeing", "sms"), diff_m("sms-south", "wellbeing", "sms"))),
  list(key = "outcome-hours", measure = "log_rate_ratio", rows = list(
    lrr_from_ci("sms-south", "hours", "sms"),
    lrr_additional("volunteer-letters", "hours", "norm"),
    lrr_additional("volunteer-letters", "hours", "easy"))),
  list(key = "type-binary", measure = "risk_difference", rows = list(
    diff_m("sms-link-worker", "attended", "sms"), diff_m("sms-south", "attended", "sms"),
    diff_m("volunteer-letters", "registered", "norm"), diff_m("volunteer-letters", "registered", "easy"),
    diff_m("health-champions", "plan_completed", "champions"))),
  list(key = "type-continuous", measure = "smd", rows = list(
    hedges_g("sms-south", "wellbeing", "sms", "usual"),
    hedges_g("peer-support", "wemwbs", "circles", "usual")))
)

fit_one <- function(yi, sei, method) {
  fit <- rma(yi = yi, sei = sei, method = method)
  pr <- predict(fit)
  has_pi <- !is.null(pr$pi.lb)
  list(method = method, estimate = as.numeric(fit$beta), se = fit$se, pval = fit$pval,
       ci_lb = fit$ci.lb, ci_ub = fit$ci.ub, tau2 = fit$tau2, I2 = fit$I2, QE = fit$QE, QEp = fit$QEp,
       pi_lb = if (has_pi) pr$pi.lb else NULL, pi_ub = if (has_pi) pr$pi.ub else NULL,
       weights_percent = I(as.numeric(weights(fit))))
}

out_groups <- lapply(groups, function(g) {
  yi <- sapply(g$rows, `[[`, "yi"); sei <- sapply(g$rows, `[[`, "sei")
  list(key = g$key, measure = g$measure,
       rows = lapply(g$rows, function(r) list(trial = r$trial, outcome = r$outcome, arm = r$arm,
                                              yi = r$yi, sei = r$sei)),
       fits = lapply(c("FE", "DL", "REML"), function(m) fit_one(yi, sei, m)))
})

out <- list(generator = "tests/reference/report_synthesis_reference.R",
            metafor_version = as.character(packageVersion("metafor")), r_version = R.version.string,
            groups = out_groups)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(dir, "synthesis_reference.json"))
cat("wrote", file.path(dir, "synthesis_reference.json"), "with", length(out_groups), "groups\n")
