# Reference values for the few-sites methods, aggregate data and meta-regression of
# bitframe.report.meta and bitframe.report.aggregate: metafor::rma() with method = "FE", "DL",
# "REML", "PM" and test = "z", "knha" (Hartung-Knapp-Sidik-Jonkman), "adhoc" (the Knapp-Hartung
# ad hoc correction that never narrows the interval), predict(), rma(mods = ~ ...) with its QM
# test, and escalc() for every measure and input kind with its continuity correction.
#
# Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
# Journal of Statistical Software 36(3), 1-48. doi:10.18637/jss.v036.i03
#
# Paule-Mandel: metafor finds the root of the generalised Q with uniroot(tol = eps^0.25); the
# reference uses control = list(tol = 1e-12) so it is the root itself, which bitframe solves to
# machine precision (the default tolerance moves tau^2 by up to ~1e-4).
#
# Run from the repository root:   Rscript tests/reference/metafor_methods_reference.R
# Writes tests/reference/metafor_methods_reference.json (inputs included).
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

num <- function(x) if (length(x) == 0 || is.null(x) || all(is.na(x))) NULL else as.numeric(x)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
cases <- list(
  list(name = "bcg_log_rr", yi = bcg$yi, vi = bcg$vi),
  list(name = "bcg_four_heterogeneous", yi = bcg$yi[c(4, 6, 8, 11)], vi = bcg$vi[c(4, 6, 8, 11)]),
  list(name = "three_sites", yi = c(0.069, 0.031, 0.12), vi = c(0.024, 0.027, 0.04)^2),
  list(name = "two_sites", yi = c(-0.05, 0.40), vi = c(0.004, 0.009)),
  list(name = "homogeneous_tau2_zero", yi = c(0.10, 0.12, 0.09, 0.11, 0.10, 0.13),
       vi = c(0.010, 0.020, 0.015, 0.010, 0.030, 0.025))
)

fit_one <- function(cs, method, test, level = 95) {
  ctrl <- if (method == "PM") list(tol = 1e-12) else list()
  fit <- suppressWarnings(rma(yi = cs$yi, vi = cs$vi, method = method, test = test, level = level,
                              control = ctrl))
  pr <- predict(fit, level = level)
  list(method = method, test = test, level = level,
       estimate = as.numeric(fit$beta), se = fit$se, zval = fit$zval, pval = fit$pval,
       ci_lb = fit$ci.lb, ci_ub = fit$ci.ub, tau2 = fit$tau2, se_tau2 = num(fit$se.tau2),
       I2 = fit$I2, H2 = fit$H2, QE = fit$QE, QEp = fit$QEp, k = fit$k, ddf = num(fit$ddf),
       pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub),
       weights_percent = I(as.numeric(weights(fit))))
}

out_cases <- lapply(cases, function(cs) {
  fits <- list(fit_one(cs, "FE", "z"))
  for (m in c("DL", "REML", "PM")) for (t in c("z", "knha", "adhoc")) fits[[length(fits) + 1]] <- fit_one(cs, m, t)
  fits[[length(fits) + 1]] <- fit_one(cs, "PM", "adhoc", level = 90)
  list(name = cs$name, yi = I(as.numeric(cs$yi)), vi = I(as.numeric(cs$vi)), fits = fits)
})

# Meta-regression: BCG log risk ratios on absolute latitude (continuous) and on the
# allocation method (a three-level factor: QM is the between-subgroup test).
reg_one <- function(name, mods, method, test) {
  ctrl <- if (method == "PM") list(tol = 1e-12) else list()
  fit <- suppressWarnings(rma(yi, vi, mods = mods, data = bcg, method = method, test = test, control = ctrl))
  X <- model.matrix(mods, data = bcg)
  list(name = name, method = method, test = test, terms = I(colnames(X)),
       X = X[, -1, drop = FALSE], yi = I(as.numeric(bcg$yi)), vi = I(as.numeric(bcg$vi)),
       estimate = I(as.numeric(fit$beta)), se = I(fit$se), zval = I(fit$zval), pval = I(fit$pval),
       ci_lb = I(fit$ci.lb), ci_ub = I(fit$ci.ub), tau2 = fit$tau2, se_tau2 = num(fit$se.tau2),
       I2 = fit$I2, H2 = fit$H2, QE = fit$QE, QEp = fit$QEp, QM = fit$QM, QMp = fit$QMp,
       QMdf = I(num(fit$QMdf)), k = fit$k)
}
regressions <- list()
for (m in c("FE", "DL", "REML", "PM")) for (t in c("z", "knha", "adhoc")) {
  if (m == "FE" && t != "z") next
  regressions[[length(regressions) + 1]] <- reg_one("bcg_ablat", ~ ablat, m, t)
  regressions[[length(regressions) + 1]] <- reg_one("bcg_alloc", ~ factor(alloc), m, t)
}

# escalc: every measure and input kind, with zero cells (escalc's default add = 1/2, to = "only0").
two_by_two <- data.frame(ai = c(12, 0, 5, 0, 30), n1i = c(100, 40, 60, 25, 200),
                         ci = c(7, 3, 0, 0, 18), n2i = c(98, 41, 58, 30, 210))
means <- data.frame(m1i = c(10.2, 4.1, 50), sd1i = c(3.1, 1.2, 12), n1i = c(40, 12, 150),
                    m2i = c(9.1, 3.5, 47), sd2i = c(2.9, 1.4, 11), n2i = c(38, 15, 160))
rates <- data.frame(x1i = c(30, 0, 12), t1i = c(1200, 300, 410), x2i = c(21, 4, 12), t2i = c(1150, 310, 400))
esc <- list()
for (m in c("RD", "RR", "OR")) {
  e <- escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = two_by_two)
  esc[[m]] <- list(measure = m, input = two_by_two, yi = I(as.numeric(e$yi)), vi = I(as.numeric(e$vi)))
}
for (m in c("SMD", "MD")) {
  e <- escalc(measure = m, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = means)
  esc[[m]] <- list(measure = m, input = means, yi = I(as.numeric(e$yi)), vi = I(as.numeric(e$vi)))
}
e <- escalc(measure = "IRR", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = rates)
esc[["IRR"]] <- list(measure = "IRR", input = rates, yi = I(as.numeric(e$yi)), vi = I(as.numeric(e$vi)))

# Issue 16's acceptance case: two sites' different binary outcomes ("contacted a befriending
# scheme", "signed up as a befriending volunteer"), declared one family on the risk difference and
# pooled with bitframe's default (REML, test = "adhoc") and the normal interval.
acc_in <- data.frame(ai = c(58, 31), n1i = c(412, 300), ci = c(39, 22), n2i = c(405, 298))
acc <- escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = acc_in)
acceptance <- list(input = acc_in, yi = I(as.numeric(acc$yi)), vi = I(as.numeric(acc$vi)),
                   fits = list(fit_one(list(yi = acc$yi, vi = acc$vi), "REML", "adhoc"),
                               fit_one(list(yi = acc$yi, vi = acc$vi), "REML", "z")))

out <- list(
  generator = "tests/reference/metafor_methods_reference.R",
  metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  cases = out_cases, regressions = regressions, escalc = esc, acceptance = acceptance
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", dataframe = "columns"),
           "tests/reference/metafor_methods_reference.json")
cat("wrote tests/reference/metafor_methods_reference.json\n")
