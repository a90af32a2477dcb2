# Reference values for bitframe.analyse.inference.equivalence, written independently in base R.
# Run: Rscript tests/reference/inference_equivalence_reference.R   (from the repository root)
# Exact TOST power (Owen 1965 / Phillips 1990): integrate over the chi-square distribution of the
# variance estimate, as PowerTOST's method = "exact" (PowerTOST is not on this machine; its documented
# power.TOST(CV = 0.3, n = 40) = 0.8158453 is checked in the tests). TOST p-values from pt().
suppressPackageStartupMessages(library(jsonlite))
tost_power_exact <- function(delta, se, df, lower, upper, alpha) {
  tc <- qt(1 - alpha, df)
  vmax <- df * ((upper - lower) / (2 * tc * se))^2
  f <- function(v) {
    s <- se * sqrt(v / df)
    pmax(0, pnorm((upper - delta - tc * s) / se) - pnorm((lower - delta + tc * s) / se)) * dchisq(v, df)
  }
  integrate(f, 0, vmax, rel.tol = 1e-12, abs.tol = 1e-14, subdivisions = 1000L)$value
}
# Monte Carlo check of the same quantity (not used by the tests; printed for the record)
set.seed(1)
mc <- function(delta, sd, n0, n1, lower, upper, alpha, reps = 2e5) {
  d <- rnorm(reps, delta, sd * sqrt(1 / n0 + 1 / n1))
  s <- sd * sqrt(rchisq(reps, n0 + n1 - 2) / (n0 + n1 - 2)) * sqrt(1 / n0 + 1 / n1)
  tc <- qt(1 - alpha, n0 + n1 - 2)
  mean((d - lower) / s > tc & (upper - d) / s > tc)
}
power_cases <- list()
grid <- expand.grid(delta = c(0, 0.1, -0.2), sd = c(1, 0.6), n0 = c(20, 50), ratio = c(1, 2),
                    margin = c(0.4, 0.6), alpha = c(0.05, 0.025))
for (i in seq_len(nrow(grid))) {
  g <- grid[i, ]
  n1 <- g$n0 * g$ratio
  se <- g$sd * sqrt(1 / g$n0 + 1 / n1)
  df <- g$n0 + n1 - 2
  power_cases[[i]] <- list(delta = g$delta, sd = g$sd, n_control = g$n0, n_treatment = n1,
                           lower = -g$margin, upper = g$margin, alpha = g$alpha,
                           exact = tost_power_exact(g$delta, se, df, -g$margin, g$margin, g$alpha),
                           normal = max(0, pnorm((g$margin - g$delta) / se - qnorm(1 - g$alpha)) -
                                           pnorm((-g$margin - g$delta) / se + qnorm(1 - g$alpha))))
}
cat("MC check (delta=0.1, sd=1, n=50/50, margin 0.4):", mc(0.1, 1, 50, 50, -0.4, 0.4, 0.05),
    "exact:", tost_power_exact(0.1, sqrt(2 / 50), 98, -0.4, 0.4, 0.05), "\n")
# PowerTOST's documented example mapped to the core: 2x2 crossover, CV 0.3, n 40, theta0 0.95
crossover <- tost_power_exact(log(0.95), sqrt(log(1 + 0.3^2)) * sqrt(2 / 40), 38, log(0.8), log(1.25), 0.05)
p_cases <- list()
pc <- expand.grid(est = c(0.1, -0.35, 0.45), se = c(0.2, 0.12), df = c(15, 60, Inf))
for (i in seq_len(nrow(pc))) {
  g <- pc[i, ]
  pl <- if (is.finite(g$df)) pt((g$est + 0.5) / g$se, g$df, lower.tail = FALSE) else pnorm((g$est + 0.5) / g$se, lower.tail = FALSE)
  pu <- if (is.finite(g$df)) pt((g$est - 0.5) / g$se, g$df) else pnorm((g$est - 0.5) / g$se)
  p_cases[[i]] <- list(estimate = g$est, std_error = g$se, df = if (is.finite(g$df)) g$df else "inf",
                       lower = -0.5, upper = 0.5, p_lower = pl, p_upper = pu, p_value = max(pl, pu))
}
dir.create("tests/reference/inference", showWarnings = FALSE)
write(toJSON(list(power = power_cases, crossover_powertost_example = crossover, tost_p = p_cases), digits = NA,
             auto_unbox = TRUE, pretty = TRUE), "tests/reference/inference/equivalence_reference.json")
cat("crossover example:", crossover, "\n")
