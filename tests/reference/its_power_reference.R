# Reference for bitframe.power.interrupted_time_series (issue 19 item 6): power of the level change
# of a segmented regression (Lopez Bernal, Cummins & Gasparrini 2017) when the errors are AR(1).
#
# Model, as bitframe analyse fits it (analyse/nonrandomised/its.py), periods t = 1..n, start s:
#   y_t = b0 + b1 t + b2 1{t >= s} + b3 (t - s + 1) 1{t >= s} + e_t,  e_t AR(1), corr(e_t, e_u) = phi^|t-u|
#
# 1. The GLS variance of the level change: nlme::gls with the AR(1) correlation fixed at phi
#    (corAR1(phi, fixed = TRUE), REML so that sigma^2 is the one vcov() scales by); vcov / sigma^2 is
#    (X' R^-1 X)^-1, an implementation independent of bitframe's. The OLS sandwich
#    (X'X)^-1 X' R X (X'X)^-1 is given too (the variance Newey-West estimates).
# 2. Power by simulation (as Zhang, Wagner & Ross-Degnan 2011, J Clin Epidemiol 64:1252, simulate the
#    segmented regression with AR(1) errors and count rejections, alpha = 0.05 two-sided):
#    a. phi known: the Prais-Winsten transform of y and X, then lm's t-test of the level change
#       (GLS with known phi: the t-test is exact, so this checks the analytic power);
#    b. phi estimated: arima(order = c(1, 0, 0), xreg = ..., method = "ML") and its Wald z-test, the
#       analysis `errors: arima` runs; in short series it rejects more often than the analytic power
#       says, which the power note states.
#    Each with its Monte Carlo standard error.
#
# Run from the repository root:   Rscript tests/reference/its_power_reference.R   (about a minute)
# Writes tests/reference/its_power_reference.json.
suppressPackageStartupMessages({
  library(nlme)
  library(jsonlite)
})

design <- function(pre, post, slope) {
  n <- pre + post
  t <- seq_len(n)
  s <- pre + 1
  level <- as.numeric(t >= s)
  X <- cbind(1, t, level)
  if (slope) X <- cbind(X, (t - s + 1) * level)
  X
}

one_case <- function(name, pre, post, phi, sd, effect, slope, nsim, seed) {
  X <- design(pre, post, slope)
  n <- nrow(X)
  R <- toeplitz(phi^(0:(n - 1)))
  set.seed(seed)
  d <- data.frame(y = rnorm(n), t = X[, 2], level = X[, 3], time = seq_len(n))
  if (slope) d$slope <- X[, 4]
  f <- if (slope) y ~ t + level + slope else y ~ t + level
  g <- gls(f, data = d, correlation = corAR1(value = max(phi, 1e-12), form = ~ time, fixed = TRUE), method = "REML")
  gls_var <- vcov(g)["level", "level"] / g$sigma^2
  XtX <- solve(crossprod(X))
  ols_var <- (XtX %*% t(X) %*% R %*% X %*% XtX)[3, 3]
  beta <- c(10, 0.1, effect, if (slope) 0 else NULL)
  mu <- as.numeric(X %*% beta)
  reject_known <- 0
  reject_arima <- 0
  set.seed(seed)
  for (i in seq_len(nsim)) {
    e <- if (phi > 0) as.numeric(arima.sim(list(ar = phi), n = n, sd = sd * sqrt(1 - phi^2))) else rnorm(n, sd = sd)
    y <- mu + e
    # Prais-Winsten: the errors of the transformed regression are independent with equal variance
    ys <- c(sqrt(1 - phi^2) * y[1], y[-1] - phi * y[-n])
    Xs <- rbind(sqrt(1 - phi^2) * X[1, ], X[-1, ] - phi * X[-n, ])
    l <- summary(lm(ys ~ Xs - 1))$coefficients[3, ]
    reject_known <- reject_known + (l[4] < 0.05)
    fit <- arima(y, order = c(1, 0, 0), xreg = X[, -1], method = "ML")
    z <- fit$coef["level"] / sqrt(fit$var.coef["level", "level"])
    reject_arima <- reject_arima + (abs(z) > qnorm(0.975))
  }
  p <- reject_known / nsim
  q <- reject_arima / nsim
  out <- list(name = name, pre_periods = pre, post_periods = post, autocorrelation = phi, sd = sd, mde = effect,
              slope_change = slope, alpha = 0.05, nsim = nsim, seed = seed,
              gls_variance_unscaled = gls_var, ols_sandwich_variance_unscaled = ols_var,
              simulated_power_known_phi = p, mc_se_known_phi = sqrt(p * (1 - p) / nsim),
              simulated_power_arima = q, mc_se_arima = sqrt(q * (1 - q) / nsim))
  out
}

cases <- list(
  one_case("iid_24_24", 24, 24, 0.0, 1.0, 0.8, TRUE, 2000, 1),
  one_case("ar03_24_24", 24, 24, 0.3, 1.0, 1.0, TRUE, 2000, 2),
  one_case("ar06_36_24", 36, 24, 0.6, 2.0, 2.5, TRUE, 2000, 3),
  one_case("ar04_level_only_24_12", 24, 12, 0.4, 1.0, 1.0, FALSE, 2000, 4)
)
out <- list(generator = "tests/reference/its_power_reference.R", r_version = R.version.string,
            nlme_version = as.character(packageVersion("nlme")), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/its_power_reference.json")
cat("wrote tests/reference/its_power_reference.json\n")
