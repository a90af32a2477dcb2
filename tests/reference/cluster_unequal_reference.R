# Unequal cluster sizes: the relative efficiency (RE) of unequal versus equal cluster sizes, for
# tests/power/test_cluster_unequal.py.
#
# Exact RE: in a mixed-model (GLS) analysis with known ICC rho and total variance 1, a cluster of
# size m_j carries information w_j = m_j / (1 + (m_j - 1) rho) about its arm's mean
# (van Breukelen, Candel & Berger 2007, Stat Med 26:2589, eq. 3-4), so
#   RE = mean(w_j) / w(mean m).
# The cluster sizes are K = 2000 gamma quantiles with mean m and coefficient of variation cv, a
# smooth stand-in for the cluster-size distribution the approximation averages over. bitframe's
# Taylor approximation 1 - cv^2 lambda (1 - lambda), lambda = m rho / (m rho + 1 - rho), is
# compared with this exact value; van Breukelen et al. report the approximation within a few
# percent for cv up to about 1.
#
# Power: a two-arm continuous outcome (sd 1, difference 0.3) with k clusters per arm, normal
# approximation, alpha 0.05 two-sided (strict: both tails), design effect Kish / RE_taylor.
# Run: Rscript tests/reference/cluster_unequal_reference.R > tests/reference/cluster_unequal_reference.json
library(jsonlite)

exact_re <- function(m, rho, cv, K = 2000) {
  shape <- 1 / cv^2
  sizes <- qgamma((seq_len(K) - 0.5) / K, shape = shape, scale = m / shape)
  sizes <- sizes * m / mean(sizes)  # exact mean m
  w <- sizes / (1 + (sizes - 1) * rho)
  mean(w) / (m / (1 + (m - 1) * rho))
}
taylor_re <- function(m, rho, cv) {
  lambda <- m * rho / (m * rho + 1 - rho)
  1 - cv^2 * lambda * (1 - lambda)
}

grid <- expand.grid(m = c(10, 30, 100), rho = c(0.01, 0.05, 0.2), cv = c(0.3, 0.6, 0.9))
efficiency <- lapply(seq_len(nrow(grid)), function(i) {
  g <- grid[i, ]
  list(m = g$m, icc = g$rho, cv = g$cv, exact = exact_re(g$m, g$rho, g$cv))
})

power_case <- function(k, m, rho, cv, delta = 0.3) {
  de <- (1 + (m - 1) * rho) / taylor_re(m, rho, cv)
  se <- sqrt(2 * de / (k * m))
  z <- qnorm(0.975)
  list(clusters = k, cluster_size = m, icc = rho, cv = cv, mde = delta, design_effect = de,
       power = pnorm(delta / se - z) + pnorm(-delta / se - z))
}
power <- list(power_case(12, 25, 0.05, 0.6), power_case(20, 40, 0.02, 0.8), power_case(8, 60, 0.1, 0.4))

cat(toJSON(list(generated_by = "tests/reference/cluster_unequal_reference.R", r_version = R.version.string,
                efficiency = efficiency, power = power),
           auto_unbox = TRUE, digits = NA, pretty = TRUE))
