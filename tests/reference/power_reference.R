# Reference values for bitframe.power (tests/power/test_reference.py).
#
# Run from the repository root:  Rscript tests/reference/power_reference.R
# Writes tests/reference/power_reference.json: a list of cases, each naming the
# bitframe calculator, its solve_for target and keyword arguments, the R call
# that produced the expected values ("source"), the expected values and the
# absolute tolerance for each.
#
# Sources: pwr (pwr.t.test, pwr.t2n.test, pwr.2p.test, pwr.2p2n.test,
# pwr.anova.test, pwr.chisq.test), stats (power.t.test, power.prop.test, with
# strict = TRUE and FALSE), Hmisc (bpower, bsamsize), mvtnorm (pmvnorm, pmvt for Dunnett
# critical values), closed-form sample-size formulas from the literature coded
# here independently of bitframe (Fleiss, Tytun & Ury 1980; Signorini 1991;
# Hemming et al. 2011), a generalised-least-squares computation of the
# stepped-wedge variance with full covariance matrices (as swCRTdesign::swPwr
# does; Hussey & Hughes 2007), and Monte Carlo simulations with stats::p.adjust
# for Holm and with Poisson counts for the rate-ratio approximation.
#
# Notes on tolerances: pwr solves with uniroot at its default tolerance
# (.Machine$double.eps^0.25 ~ 1.2e-4 on the solved quantity), so solved values
# from pwr get tolerance 5e-4; power.t.test / power.prop.test are called with
# tol = 1e-12. Powers computed directly are compared to 1e-6 (acceptance
# criterion 1e-4). Rounded-up sample sizes are compared exactly.

suppressPackageStartupMessages({
  library(pwr)
  library(Hmisc)
  library(mvtnorm)
  library(jsonlite)
})

cases <- list()
add <- function(id, source, calculator, solve_for, kwargs, expect, tol = list()) {
  cases[[length(cases) + 1]] <<- list(
    id = id, source = source, calculator = calculator, solve_for = solve_for,
    kwargs = kwargs, expect = expect, tol = tol
  )
}
ceil_n <- function(x) ceiling(x - 1e-9)

# ---------------------------------------------------------------- means: pwr / stats
r <- pwr.t.test(n = 20, d = 0.5)
add("pwr_t_power_n20_d05", "pwr::pwr.t.test(n = 20, d = 0.5)", "two_means", "power",
    list(sd = 1, mde = 0.5, n = 20), list(power = r$power))
r <- pwr.t.test(n = 50, d = 0.3, sig.level = 0.01)
add("pwr_t_power_alpha01", "pwr::pwr.t.test(n = 50, d = 0.3, sig.level = 0.01)", "two_means", "power",
    list(sd = 1, mde = 0.3, n = 50, alpha = 0.01), list(power = r$power))
r <- pwr.t.test(n = 30, d = 0.6, alternative = "greater")
add("pwr_t_power_one_sided", "pwr::pwr.t.test(n = 30, d = 0.6, alternative = 'greater')", "two_means", "power",
    list(sd = 1, mde = 0.6, n = 30, sides = 1), list(power = r$power))
r <- pwr.t.test(d = 0.5, power = 0.8)
add("pwr_t_n_d05", "pwr::pwr.t.test(d = 0.5, power = 0.8)", "two_means", "n",
    list(sd = 1, mde = 0.5, power = 0.8), list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 5e-4))
r <- pwr.t.test(d = 0.2, power = 0.9)
add("pwr_t_n_d02", "pwr::pwr.t.test(d = 0.2, power = 0.9)", "two_means", "n",
    list(sd = 1, mde = 0.2, power = 0.9), list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 5e-4))
r <- pwr.t.test(d = 0.4, power = 0.8, alternative = "greater")
add("pwr_t_n_one_sided", "pwr::pwr.t.test(d = 0.4, power = 0.8, alternative = 'greater')", "two_means", "n",
    list(sd = 1, mde = 0.4, power = 0.8, sides = 1), list(n_control = ceil_n(r$n), n_solution = r$n),
    list(n_solution = 5e-4))
r <- pwr.t.test(n = 64, power = 0.8)
add("pwr_t_d_n64", "pwr::pwr.t.test(n = 64, power = 0.8)", "two_means", "mde",
    list(sd = 1, n = 64, power = 0.8), list(mde = r$d), list(mde = 5e-4))
r <- pwr.t2n.test(n1 = 30, n2 = 45, d = 0.5)
add("pwr_t2n_power_30_45", "pwr::pwr.t2n.test(n1 = 30, n2 = 45, d = 0.5)", "two_means", "power",
    list(sd = 1, mde = 0.5, n = 30, ratio = 1.5), list(power = r$power, n_treatment = 45))
r <- pwr.t2n.test(n1 = 20, n2 = 60, d = 0.6, sig.level = 0.01)
add("pwr_t2n_power_20_60", "pwr::pwr.t2n.test(n1 = 20, n2 = 60, d = 0.6, sig.level = 0.01)", "two_means", "power",
    list(sd = 1, mde = 0.6, n = 20, ratio = 3, alpha = 0.01), list(power = r$power))
r <- pwr.t2n.test(n1 = 50, n2 = 100, power = 0.8)
add("pwr_t2n_d_50_100", "pwr::pwr.t2n.test(n1 = 50, n2 = 100, power = 0.8)", "two_means", "mde",
    list(sd = 1, n = 50, ratio = 2, power = 0.8), list(mde = r$d), list(mde = 5e-4))
r <- power.t.test(n = 20, delta = 1, sd = 2, strict = TRUE)
add("power_t_test_power", "stats::power.t.test(n = 20, delta = 1, sd = 2, strict = TRUE)", "two_means", "power",
    list(sd = 2, mde = 1, n = 20), list(power = r$power))
r <- power.t.test(delta = 5, sd = 10, power = 0.9, strict = TRUE, tol = 1e-12)
add("power_t_test_n", "stats::power.t.test(delta = 5, sd = 10, power = 0.9, strict = TRUE)", "two_means", "n",
    list(sd = 10, mde = 5, power = 0.9), list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 1e-6))
r <- power.t.test(n = 40, sd = 3, power = 0.85, strict = TRUE, tol = 1e-12)
add("power_t_test_delta", "stats::power.t.test(n = 40, sd = 3, power = 0.85, strict = TRUE)", "two_means", "mde",
    list(sd = 3, n = 40, power = 0.85), list(mde = r$delta), list(mde = 1e-6))
# ANCOVA: residual SD = sd * sqrt(1 - R^2); with no covariate df this is pwr.t.test on the adjusted d
r <- pwr.t.test(n = 50, d = 0.3 / sqrt(1 - 0.5))
add("pwr_t_r_squared", "pwr::pwr.t.test(n = 50, d = 0.3 / sqrt(1 - 0.5))  [R^2 = 0.5]", "two_means", "power",
    list(sd = 1, mde = 0.3, n = 50, r_squared = 0.5), list(power = r$power))
# attrition: analysed n from pwr.t.test, recruited = ceiling(n / (1 - 0.2))
r <- pwr.t.test(d = 0.5, power = 0.8)
add("pwr_t_n_attrition", "ceiling(pwr::pwr.t.test(d = 0.5, power = 0.8)$n / 0.8)", "two_means", "n",
    list(sd = 1, mde = 0.5, power = 0.8, attrition = 0.2), list(n_control = ceil_n(r$n / 0.8)))
# z-test for means (normal approximation): n = 2 (z_a + z_b)^2 / d^2 (e.g. Chow, Shao & Wang 2008, 3.2)
nz <- 2 * (qnorm(0.975) + qnorm(0.9))^2 / 0.25^2
add("z_means_n", "2 (qnorm(0.975) + qnorm(0.9))^2 / 0.25^2", "two_means", "n",
    list(sd = 1, mde = 0.25, power = 0.9, method = "normal", strict = FALSE),
    list(n_control = ceil_n(nz), n_solution = nz), list(n_solution = 1e-6))
r <- power.t.test(n = 15, delta = 0.6, strict = FALSE)
add("power_t_test_not_strict", "stats::power.t.test(n = 15, delta = 0.6)  [strict = FALSE: one tail]", "two_means",
    "power", list(sd = 1, mde = 0.6, n = 15, strict = FALSE), list(power = r$power))
r <- power.prop.test(n = 60, p1 = 0.3, p2 = 0.5)
add("power_prop_test_not_strict", "stats::power.prop.test(n = 60, p1 = 0.3, p2 = 0.5)  [strict = FALSE]",
    "two_proportions", "power", list(p0 = 0.3, p1 = 0.5, n = 60, strict = FALSE), list(power = r$power))

# ---------------------------------------------------------------- proportions
h <- ES.h(0.65, 0.5)
r <- pwr.2p.test(h = h, n = 100)
add("pwr_2p_power", "pwr::pwr.2p.test(h = ES.h(0.65, 0.5), n = 100)", "two_proportions", "power",
    list(p0 = 0.5, p1 = 0.65, n = 100, method = "arcsine"), list(power = r$power, standardized_effect = h))
r <- pwr.2p.test(h = ES.h(0.3, 0.2), power = 0.8)
add("pwr_2p_n", "pwr::pwr.2p.test(h = ES.h(0.3, 0.2), power = 0.8)", "two_proportions", "n",
    list(p0 = 0.2, p1 = 0.3, power = 0.8, method = "arcsine"), list(n_control = ceil_n(r$n), n_solution = r$n),
    list(n_solution = 5e-4))
r <- pwr.2p.test(n = 200, power = 0.9)
add("pwr_2p_h", "pwr::pwr.2p.test(n = 200, power = 0.9)", "two_proportions", "mde",
    list(p0 = 0.5, n = 200, power = 0.9, method = "arcsine"), list(standardized_effect = r$h),
    list(standardized_effect = 5e-4))
r <- pwr.2p.test(h = ES.h(0.25, 0.15), n = 150, alternative = "greater")
add("pwr_2p_one_sided", "pwr::pwr.2p.test(h = ES.h(0.25, 0.15), n = 150, alternative = 'greater')",
    "two_proportions", "power", list(p0 = 0.15, p1 = 0.25, n = 150, method = "arcsine", sides = 1),
    list(power = r$power))
r <- pwr.2p2n.test(h = ES.h(0.4, 0.3), n1 = 150, n2 = 300)
add("pwr_2p2n_power", "pwr::pwr.2p2n.test(h = ES.h(0.4, 0.3), n1 = 150, n2 = 300)", "two_proportions", "power",
    list(p0 = 0.3, p1 = 0.4, n = 150, ratio = 2, method = "arcsine"), list(power = r$power))
r <- power.prop.test(n = 50, p1 = 0.5, p2 = 0.75, strict = TRUE)
add("power_prop_test_power", "stats::power.prop.test(n = 50, p1 = 0.5, p2 = 0.75, strict = TRUE)",
    "two_proportions", "power", list(p0 = 0.5, p1 = 0.75, n = 50), list(power = r$power))
r <- power.prop.test(p1 = 0.1, p2 = 0.15, power = 0.8, strict = TRUE, tol = 1e-12)
add("power_prop_test_n", "stats::power.prop.test(p1 = 0.1, p2 = 0.15, power = 0.8, strict = TRUE)",
    "two_proportions", "n", list(p0 = 0.1, p1 = 0.15, power = 0.8),
    list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 1e-6))
r <- power.prop.test(n = 200, p1 = 0.2, power = 0.8, strict = TRUE, tol = 1e-12)
add("power_prop_test_p2", "stats::power.prop.test(n = 200, p1 = 0.2, power = 0.8, strict = TRUE)",
    "two_proportions", "mde", list(p0 = 0.2, n = 200, power = 0.8), list(mde = r$p2 - 0.2), list(mde = 1e-6))
r <- power.prop.test(p1 = 0.3, p2 = 0.2, power = 0.9, sig.level = 0.01, strict = TRUE, tol = 1e-12)
add("power_prop_test_n_decrease", "stats::power.prop.test(p1 = 0.3, p2 = 0.2, power = 0.9, sig.level = 0.01, strict = TRUE)",
    "two_proportions", "n", list(p0 = 0.3, p1 = 0.2, power = 0.9, alpha = 0.01),
    list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 1e-6))
r <- bpower(p1 = 0.1, p2 = 0.2, n1 = 100, n2 = 200)
add("hmisc_bpower_unequal", "Hmisc::bpower(p1 = 0.1, p2 = 0.2, n1 = 100, n2 = 200)", "two_proportions", "power",
    list(p0 = 0.1, p1 = 0.2, n = 100, ratio = 2), list(power = unname(r)))
r <- bsamsize(p1 = 0.1, p2 = 0.2, fraction = 1 / 3, power = 0.8)
add("hmisc_bsamsize_unequal", "Hmisc::bsamsize(p1 = 0.1, p2 = 0.2, fraction = 1/3, power = 0.8)",
    "two_proportions", "n", list(p0 = 0.1, p1 = 0.2, ratio = 2, power = 0.8, strict = FALSE),
    list(n_solution = unname(r["n1"]), n_control = ceil_n(r["n1"]), n_treatment = ceil_n(r["n2"])),
    list(n_solution = 1e-6))

# Fleiss, Tytun & Ury (1980) continuity-corrected sample size (Fleiss, Levin & Paik 2003, eqs 4.14, 4.19):
#   n  = [z_a sqrt((r+1) pbar qbar) + z_b sqrt(r p0 q0 + p1 q1)]^2 / (r D^2),  pbar = (p0 + r p1)/(1 + r)
#   n' = n/4 [1 + sqrt(1 + 2 (r + 1) / (n r |D|))]^2   (control arm; treatment r n')
ftu <- function(p0, p1, r = 1, alpha = 0.05, power = 0.8, sides = 2) {
  za <- qnorm(1 - alpha / sides); zb <- qnorm(power)
  pbar <- (p0 + r * p1) / (1 + r); D <- abs(p1 - p0)
  n <- (za * sqrt((r + 1) * pbar * (1 - pbar)) + zb * sqrt(r * p0 * (1 - p0) + p1 * (1 - p1)))^2 / (r * D^2)
  c(n = n, ncc = n / 4 * (1 + sqrt(1 + 2 * (r + 1) / (n * r * D)))^2)
}
for (cfg in list(list(0.05, 0.10, 1, 0.05, 0.8, 2), list(0.2, 0.3, 2, 0.05, 0.9, 2),
                 list(0.5, 0.4, 1, 0.05, 0.8, 2), list(0.1, 0.2, 1, 0.05, 0.8, 1),
                 list(0.3, 0.45, 0.5, 0.01, 0.9, 2))) {
  v <- ftu(cfg[[1]], cfg[[2]], cfg[[3]], cfg[[4]], cfg[[5]], cfg[[6]])
  add(sprintf("fleiss_cc_%g_%g_r%g_s%d", cfg[[1]], cfg[[2]], cfg[[3]], cfg[[6]]),
      sprintf("Fleiss-Tytun-Ury n' (p0=%g, p1=%g, r=%g, alpha=%g, power=%g, sides=%d)",
              cfg[[1]], cfg[[2]], cfg[[3]], cfg[[4]], cfg[[5]], cfg[[6]]),
      "two_proportions", "n",
      list(p0 = cfg[[1]], p1 = cfg[[2]], ratio = cfg[[3]], alpha = cfg[[4]], power = cfg[[5]], sides = cfg[[6]],
           method = "fleiss_cc", strict = FALSE),
      list(n_solution = unname(v["ncc"]), n_control = ceil_n(v["ncc"]), n_treatment = ceil_n(cfg[[3]] * v["ncc"])),
      list(n_solution = 1e-6))
  add(sprintf("pooled_%g_%g_r%g_s%d", cfg[[1]], cfg[[2]], cfg[[3]], cfg[[6]]),
      sprintf("Fleiss-Levin-Paik eq 4.14 n (p0=%g, p1=%g, r=%g)", cfg[[1]], cfg[[2]], cfg[[3]]),
      "two_proportions", "n",
      list(p0 = cfg[[1]], p1 = cfg[[2]], ratio = cfg[[3]], alpha = cfg[[4]], power = cfg[[5]], sides = cfg[[6]],
           strict = FALSE),
      list(n_solution = unname(v["n"]), n_control = ceil_n(v["n"])), list(n_solution = 1e-6))
}
# unpooled (Wald) closed form: n0 = (z_a + z_b)^2 (p0 q0 + p1 q1 / r) / D^2
nu <- (qnorm(0.975) + qnorm(0.8))^2 * (0.3 * 0.7 + 0.4 * 0.6 / 1.5) / 0.1^2
add("unpooled_n", "(qnorm(.975) + qnorm(.8))^2 (p0 q0 + p1 q1 / r) / D^2, p0 = .3, p1 = .4, r = 1.5",
    "two_proportions", "n", list(p0 = 0.3, p1 = 0.4, ratio = 1.5, power = 0.8, method = "unpooled", strict = FALSE),
    list(n_solution = nu, n_control = ceil_n(nu), n_treatment = ceil_n(1.5 * nu)), list(n_solution = 1e-6))

# ---------------------------------------------------------------- rates (Signorini 1991, binary covariate)
# N = phi [z_a sqrt(V(0)) + z_b sqrt(V(b1))]^2 / (t exp(b0) b1^2), V(b) = 1/(1 - pi) + 1/(pi exp(b)), pi = r/(1 + r)
signorini <- function(rate0, rr, t = 1, r = 1, alpha = 0.05, power = 0.8, phi = 1, sides = 2) {
  b1 <- log(rr); p <- r / (1 + r)
  V0 <- 1 / (1 - p) + 1 / p; V1 <- 1 / (1 - p) + 1 / (p * rr)
  N <- phi * (qnorm(1 - alpha / sides) * sqrt(V0) + qnorm(power) * sqrt(V1))^2 / (t * rate0 * b1^2)
  N * (1 - p)  # control arm
}
for (cfg in list(list(0.5, 0.7, 1, 1, 1), list(2, 1.25, 0.5, 2, 1), list(0.1, 0.5, 12, 1, 1.8))) {
  n0 <- signorini(cfg[[1]], cfg[[2]], cfg[[3]], cfg[[4]], phi = cfg[[5]])
  add(sprintf("signorini_%g_%g", cfg[[1]], cfg[[2]]),
      sprintf("Signorini (1991) N(1 - pi): rate0=%g, RR=%g, t=%g, r=%g, phi=%g", cfg[[1]], cfg[[2]], cfg[[3]],
              cfg[[4]], cfg[[5]]),
      "two_rates", "n", list(rate0 = cfg[[1]], rate_ratio = cfg[[2]], exposure = cfg[[3]], ratio = cfg[[4]],
                             dispersion = cfg[[5]], power = 0.8, strict = FALSE),
      list(n_solution = n0, n_control = ceil_n(n0), n_treatment = ceil_n(cfg[[4]] * n0)), list(n_solution = 1e-6))
}
# Wald: n0 = (z_a + z_b)^2 (1/rate0 + 1/(r rate1)) / (t log(RR)^2)
nw <- (qnorm(0.975) + qnorm(0.9))^2 * (1 / 0.8 + 1 / (1 * 0.8 * 0.75)) / (2 * log(0.75)^2)
add("wald_rates_n", "(z_a + z_b)^2 (1/l0 + 1/(r l1)) / (t log(RR)^2): l0 = .8, RR = .75, t = 2",
    "two_rates", "n", list(rate0 = 0.8, rate_ratio = 0.75, exposure = 2, power = 0.9, method = "wald", strict = FALSE),
    list(n_solution = nw, n_control = ceil_n(nw)), list(n_solution = 1e-6))

# ---------------------------------------------------------------- ANOVA / chi-square (pwr)
r <- pwr.anova.test(k = 4, n = 20, f = 0.25)
add("pwr_anova_power", "pwr::pwr.anova.test(k = 4, n = 20, f = 0.25)", "one_way_anova", "power",
    list(groups = 4, n = 20, f = 0.25), list(power = r$power))
r <- pwr.anova.test(k = 3, f = 0.25, power = 0.8)
add("pwr_anova_n", "pwr::pwr.anova.test(k = 3, f = 0.25, power = 0.8)", "one_way_anova", "n",
    list(groups = 3, f = 0.25, power = 0.8), list(n_control = ceil_n(r$n), n_solution = r$n), list(n_solution = 5e-4))
r <- pwr.anova.test(k = 5, n = 30, power = 0.9)
add("pwr_anova_f", "pwr::pwr.anova.test(k = 5, n = 30, power = 0.9)", "one_way_anova", "mde",
    list(groups = 5, n = 30, power = 0.9), list(mde = r$f), list(mde = 5e-4))
r <- pwr.chisq.test(w = 0.3, N = 100, df = 3)
add("pwr_chisq_power", "pwr::pwr.chisq.test(w = 0.3, N = 100, df = 3)", "chi_square", "power",
    list(w = 0.3, n = 100, df = 3), list(power = r$power))
r <- pwr.chisq.test(w = 0.3, df = 1, power = 0.8)
add("pwr_chisq_n", "pwr::pwr.chisq.test(w = 0.3, df = 1, power = 0.8)", "chi_square", "n",
    list(w = 0.3, df = 1, power = 0.8), list(n_total = ceil_n(r$N), n_solution = r$N), list(n_solution = 5e-4))
r <- pwr.chisq.test(N = 200, df = 2, power = 0.8)
add("pwr_chisq_w", "pwr::pwr.chisq.test(N = 200, df = 2, power = 0.8)", "chi_square", "mde",
    list(n = 200, df = 2, power = 0.8), list(mde = r$w), list(mde = 5e-4))

# ---------------------------------------------------------------- multi-arm: Dunnett via mvtnorm
# Critical value c solves P(max |T_i| <= c) = 0.95 (uniroot on mvtnorm::pmvnorm with the deterministic Miwa
# algorithm for normal statistics; pmvt with Genz-Bretz quasi-Monte Carlo, 2e6 points, for t statistics).
# (qmvnorm/qmvt stop their own root search early, at ~1e-4 from the root, so they are not used.)
set.seed(20240611)
equi <- function(k, rho) { S <- matrix(rho, k, k); diag(S) <- 1; S }
gb <- GenzBretz(maxpts = 2e6, abseps = 1e-8, releps = 0)
dunnett_crit <- function(k, rho, df = Inf, sides = 2, alpha = 0.05) {
  S <- equi(k, rho)
  f <- function(c) {
    lo <- if (sides == 2) rep(-c, k) else rep(-Inf, k)
    p <- if (is.infinite(df)) pmvnorm(lower = lo, upper = rep(c, k), corr = S, algorithm = Miwa(steps = 4097))
         else pmvt(lower = lo, upper = rep(c, k), corr = S, df = df, algorithm = gb)
    p - (1 - alpha)
  }
  uniroot(f, c(1, 5), tol = 1e-12)$root
}
dunnett <- list()
for (cfg in list(list(2, 0.5, Inf, 2), list(3, 0.5, Inf, 2), list(4, 0.5, Inf, 2), list(3, 0.5, 30, 2),
                 list(3, 0.5, Inf, 1), list(2, 2 / 3, Inf, 2), list(5, 0.5, 20, 2))) {
  k <- cfg[[1]]; rho <- cfg[[2]]; df <- cfg[[3]]; sides <- cfg[[4]]
  q <- dunnett_crit(k, rho, df, sides)
  dunnett[[length(dunnett) + 1]] <- list(
    k = k, rho = rho, df = if (is.infinite(df)) NA_real_ else df, sides = sides, alpha = 0.05, critical_value = q,
    tol = if (is.infinite(df)) 1e-8 else 2e-5,
    source = sprintf("uniroot on mvtnorm::%s(%s, corr = equicorr(%d, %.4f)%s) = 0.95",
                     if (is.infinite(df)) "pmvnorm" else "pmvt", if (sides == 2) "-c..c" else "-Inf..c", k, rho,
                     if (is.infinite(df)) ", Miwa" else sprintf(", df = %g", df)))
}
# Dunnett power for a t-test: critical value with the pooled error df, marginal power from pt(ncp)
k <- 3; n <- 50; d <- 0.5; df <- n * (k + 1) - (k + 1)
cq <- dunnett_crit(k, 0.5, df)
ncp <- d / sqrt(2 / n)
pw <- pt(cq, df, ncp, lower.tail = FALSE) + pt(-cq, df, ncp)
add("dunnett_t_power", "uniroot on pmvt(df = 196, equicorr(3, .5)) = .95; pt(-c, df, ncp) + 1 - pt(c, df, ncp)",
    "multi_arm", "power", list(arms = 3, sd = 1, mde = 0.5, n = 50, correction = "dunnett"),
    list(critical_value = cq, power = pw), list(critical_value = 2e-5, power = 1e-5))
# Bonferroni with the pooled error df
cb <- qt(1 - 0.05 / (2 * k), df)
pb <- pt(cb, df, ncp, lower.tail = FALSE) + pt(-cb, df, ncp)
add("bonferroni_t_power", "qt(1 - .05/6, 196); noncentral pt", "multi_arm", "power",
    list(arms = 3, sd = 1, mde = 0.5, n = 50, correction = "bonferroni"),
    list(critical_value = cb, power = pb))
# unequal allocation, normal approximation: rho = r / (1 + r)
r_ <- 2; k <- 2; n <- 60; ncp <- 0.4 / sqrt(1 / n + 1 / (r_ * n))
cq <- dunnett_crit(k, r_ / (1 + r_))
add("dunnett_normal_unequal", "uniroot on pmvnorm(equicorr(2, 2/3), Miwa) = .95; pnorm", "multi_arm", "power",
    list(arms = 2, sd = 1, mde = 0.4, n = 60, ratio = 2, method = "normal", correction = "dunnett"),
    list(critical_value = cq, power = pnorm(ncp - cq) + pnorm(-ncp - cq)), list(critical_value = 1e-8, power = 1e-8))

# ---------------------------------------------------------------- multi-arm: Holm by Monte Carlo with p.adjust
holm_mc <- function(k, n, d, ratio = 1, t_test = TRUE, sides = 2, reps = 200000, alpha = 0.05) {
  n1 <- ratio * n; df <- n + k * n1 - (k + 1)
  m0 <- rnorm(reps, 0, sqrt(1 / n))
  mt <- matrix(rnorm(reps * k, d, sqrt(1 / n1)), reps, k)
  s <- if (t_test) sqrt(rchisq(reps, df) / df) else rep(1, reps)
  tstat <- (mt - m0) / (s * sqrt(1 / n + 1 / n1))
  p <- if (t_test) {
    if (sides == 2) 2 * pt(-abs(tstat), df) else pt(-tstat, df)
  } else {
    if (sides == 2) 2 * pnorm(-abs(tstat)) else pnorm(-tstat)
  }
  padj <- t(apply(p, 1, p.adjust, method = "holm"))
  rej <- rowMeans(padj <= alpha)
  c(power = mean(rej), se = sd(rej) / sqrt(reps))
}
for (cfg in list(list(3, 40, 0.5, 1, TRUE, 2), list(2, 30, 0.6, 1, FALSE, 2), list(4, 60, 0.45, 1.5, TRUE, 1))) {
  v <- holm_mc(cfg[[1]], cfg[[2]], cfg[[3]], cfg[[4]], cfg[[5]], cfg[[6]])
  add(sprintf("holm_mc_k%d", cfg[[1]]),
      sprintf("Monte Carlo (200000 reps, seed 20240611) with stats::p.adjust(method = 'holm'): k=%d, n=%d, d=%g, ratio=%g, %s, sides=%d",
              cfg[[1]], cfg[[2]], cfg[[3]], cfg[[4]], if (cfg[[5]]) "t" else "z", cfg[[6]]),
      "multi_arm", "power",
      list(arms = cfg[[1]], sd = 1, mde = cfg[[3]], n = cfg[[2]], ratio = cfg[[4]],
           method = if (cfg[[5]]) "t" else "normal", sides = cfg[[6]], correction = "holm"),
      list(power = unname(v["power"])), list(power = unname(4 * v["se"])))
}

# ---------------------------------------------------------------- cluster trials
# Hemming et al. (2011), fixed k clusters per arm: m = n_I (1 - icc) / (k - n_I icc), n_I from the z formula
nI <- 2 * (qnorm(0.975) + qnorm(0.8))^2 / 0.3^2
for (cfg in list(list(30, 0.05), list(20, 0.02), list(12, 0.01))) {
  k <- cfg[[1]]; icc <- cfg[[2]]
  m <- nI * (1 - icc) / (k - nI * icc)
  add(sprintf("hemming_m_k%d_icc%g", k, icc),
      sprintf("Hemming et al. 2011: m = n_I (1 - icc) / (k - n_I icc), n_I = 2 (z_a + z_b)^2 / 0.3^2, k = %d, icc = %g",
              k, icc),
      "cluster", "cluster_size", list(icc = icc, clusters = k, sd = 1, mde = 0.3, power = 0.8, method = "normal",
                                      strict = FALSE),
      list(n_solution = m, cluster_size = ceil_n(m)), list(n_solution = 1e-6))
}
# clusters per arm with the design effect (Donner & Klar 2000): k = n_I DE / m
de <- 1 + ((0.65^2 + 1) * 25 - 1) * 0.03
k <- nI * de / 25
add("clusters_cv", "k = n_I [1 + ((cv^2 + 1) m - 1) icc] / m (Eldridge et al. 2006), m = 25, cv = .65, icc = .03",
    "cluster", "clusters", list(icc = 0.03, cluster_size = 25, cluster_size_cv = 0.65, sd = 1, mde = 0.3,
                                power = 0.8, method = "normal", strict = FALSE),
    list(n_solution = k, n_clusters_control = ceil_n(k), design_effect = de), list(n_solution = 1e-6))
# t-test on cluster means with 2k - 2 df; var of a cluster mean = (tau^2 + sigma^2/m) = sd^2 DE / m
k <- 8; m <- 30; icc <- 0.05
ncp <- 0.4 / sqrt(2 * (1 + (m - 1) * icc) / (k * m))
df <- 2 * k - 2
add("cluster_t_power", "noncentral t, df = 2k - 2 = 14, ncp = delta / sqrt(2 DE / (k m))", "cluster", "power",
    list(icc = icc, clusters = k, cluster_size = m, sd = 1, mde = 0.4, method = "t"),
    list(power = pt(qt(0.975, df), df, ncp, lower.tail = FALSE) + pt(-qt(0.975, df), df, ncp)))

# ---------------------------------------------------------------- stepped wedge: GLS with full matrices
sw_design <- function(groups, extra = 0) {
  S <- length(groups); T <- S + 1 + extra
  X <- do.call(rbind, lapply(seq_len(S), function(g) matrix(rep(as.integer(seq_len(T) > g), groups[g]),
                                                          nrow = groups[g], byrow = TRUE)))
  X
}
sw_gls_var <- function(X, sigma2, tau2) {
  I <- nrow(X); T <- ncol(X)
  # fixed effects: intercept, period 2..T, treatment
  Z <- do.call(rbind, lapply(seq_len(I), function(i) cbind(1, rbind(0, diag(T - 1)), X[i, ])))
  V <- kronecker(diag(I), matrix(tau2, T, T) + diag(sigma2, T))
  solve(t(Z) %*% solve(V, Z))[T + 1, T + 1]
}
sw_power <- function(v, theta, alpha = 0.05) pnorm(abs(theta) / sqrt(v) - qnorm(1 - alpha / 2)) +
  pnorm(-abs(theta) / sqrt(v) - qnorm(1 - alpha / 2))
# swCRTdesign::swPwr help page, Example 1: swDsn(c(6,6,6,6)), binomial, n = 120, mu0 = .05, mu1 = .035, tau = .01
mb <- (0.05 + 0.035) / 2
X <- sw_design(c(6, 6, 6, 6))
v <- sw_gls_var(X, mb * (1 - mb) / 120, 0.01^2)
add("sw_swpwr_example1", "GLS var (X'V^-1X)^-1 for swPwr Example 1: swDsn(c(6,6,6,6)), binomial, n = 120, mu0 = .05, mu1 = .035, tau = .01",
    "stepped_wedge", "power", list(steps = 4, clusters_per_step = 6, cluster_size = 120, p0 = 0.05, mde = -0.015,
                                   tau = 0.01), list(power = sw_power(v, 0.015)))
# Example 2 design (extra.time = 3): custom design matrix
X2 <- sw_design(c(6, 6, 6, 6), extra = 3)
v <- sw_gls_var(X2, mb * (1 - mb) / 120, 0.01^2)
add("sw_swpwr_example2", "GLS var for swPwr Example 2 design: swDsn(c(6,6,6,6), extra.time = 3), binomial, n = 120",
    "stepped_wedge", "power", list(design = X2, cluster_size = 120, p0 = 0.05, mde = -0.015, tau = 0.01),
    list(power = sw_power(v, 0.015)))
# continuous outcome with ICC: tau^2 = icc sigma^2 / (1 - icc)
X3 <- sw_design(rep(2, 5))
v <- sw_gls_var(X3, 1 / 20, 0.05 / 0.95)
add("sw_continuous_icc", "GLS var, 5 steps x 2 clusters, m = 20, sd = 1, icc = .05", "stepped_wedge", "power",
    list(steps = 5, clusters_per_step = 2, cluster_size = 20, sd = 1, mde = 0.3, icc = 0.05),
    list(power = sw_power(v, 0.3)))
# swPwr "Example 1" with the Gaussian analogue used in the SteppedPower tests: sigma 4, tau .9, effect 1.5, n = 1
X4 <- sw_design(rep(2, 5))
v <- sw_gls_var(X4, 16, 0.81)
add("sw_gaussian_n1", "GLS var, swDsn(c(2,2,2,2,2)), gaussian, n = 1, sigma = 4, tau = .9, theta = 1.5",
    "stepped_wedge", "power", list(steps = 5, clusters_per_step = 2, cluster_size = 1, sd = 4, mde = 1.5, tau = 0.9),
    list(power = sw_power(v, 1.5)))

out <- list(
  generated_by = "tests/reference/power_reference.R",
  r_version = R.version.string,
  packages = list(pwr = as.character(packageVersion("pwr")), Hmisc = as.character(packageVersion("Hmisc")),
                  mvtnorm = as.character(packageVersion("mvtnorm")), jsonlite = as.character(packageVersion("jsonlite"))),
  cases = cases,
  dunnett = dunnett
)
write_json(out, "tests/reference/power_reference.json", auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null")
cat(sprintf("wrote %d cases and %d Dunnett critical values\n", length(cases), length(dunnett)))
