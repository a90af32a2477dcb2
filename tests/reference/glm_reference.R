# Reference values for bitframe.analyse.glm (logistic, Poisson, negative binomial).
#
# Run from the repository root:   Rscript tests/reference/glm_reference.R
# Writes the simulated datasets and the reference estimates to tests/reference/glm/.
#
# Sources of truth (all outside bitframe):
#   * stats::glm(family = binomial / poisson) -- R Core Team, R: A Language and Environment for
#     Statistical Computing.
#   * MASS::glm.nb -- Venables & Ripley (2002), Modern Applied Statistics with S, 4th ed., sec. 7.4;
#     theta by maximum likelihood (alternating theta.ml and IRLS).
#   * sandwich::vcovHC / sandwich::vcovCL -- Zeileis (2004, 2006) J. Stat. Softw. 11(10), 16(9);
#     Zeileis, Koell & Graham (2020) J. Stat. Softw. 95(1). vcovHC treats glm.nb's theta as fixed.
#   * Average marginal effect of each arm: discrete change of the predicted mean, averaged over the
#     whole sample, with a delta-method SE, written out below by hand following
#     Williams (2012) "Using the margins command to estimate and interpret adjusted predictions and
#     marginal effects", Stata Journal 12(2):308-331, and Greene (2012) Econometric Analysis, 7th ed.,
#     sec. 17.3 (delta method for average partial effects).
suppressPackageStartupMessages({
  library(sandwich)
  library(MASS)
  library(jsonlite)
})
out <- "tests/reference/glm"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(20240611)

# ---- datasets -------------------------------------------------------------------------------
make_binary <- function(n, arms, probs, G, effects) {
  cluster <- sample(sprintf("c%02d", seq_len(G)), n, replace = TRUE)
  u <- rnorm(G, 0, 0.4)[as.integer(factor(cluster))]
  arm <- sample(arms, n, replace = TRUE, prob = probs)
  x1 <- round(rnorm(n), 4)
  x2 <- rbinom(n, 1, 0.4)
  eta <- -0.6 + effects[match(arm, arms)] + 0.5 * x1 - 0.4 * x2 + u
  y <- rbinom(n, 1, plogis(eta))
  data.frame(y = y, arm = arm, x1 = x1, x2 = x2, cluster = cluster)
}
bin2 <- make_binary(400, c("control", "treat"), c(0.5, 0.5), 40, c(0, 0.45))
bin3 <- make_binary(600, c("control", "letter", "sms"), c(0.4, 0.35, 0.25), 60, c(0, 0.3, 0.7))

make_count <- function(n, G) {
  cluster <- sample(sprintf("c%02d", seq_len(G)), n, replace = TRUE)
  arm <- sample(c("control", "email", "text"), n, replace = TRUE)
  x1 <- round(rnorm(n), 4)
  exposure <- round(runif(n, 0.5, 3), 3)
  mu <- exposure * exp(0.4 + c(0, 0.25, -0.3)[match(arm, c("control", "email", "text"))] + 0.3 * x1)
  y <- rnbinom(n, size = 1.5, mu = mu)
  data.frame(y = y, arm = arm, x1 = x1, exposure = exposure, cluster = cluster)
}
cnt <- make_count(500, 50)

write.csv(bin2, file.path(out, "binary_2arm.csv"), row.names = FALSE)
write.csv(bin3, file.path(out, "binary_3arm.csv"), row.names = FALSE)
write.csv(cnt, file.path(out, "count_3arm.csv"), row.names = FALSE)

# ---- helpers --------------------------------------------------------------------------------
vcov_of <- function(fit, se_type, cluster) {
  switch(se_type,
    classical = vcov(fit),
    HC0 = vcovHC(fit, type = "HC0"),
    HC1 = vcovHC(fit, type = "HC1"),
    HC2 = vcovHC(fit, type = "HC2"),
    HC3 = vcovHC(fit, type = "HC3"),
    CR0 = vcovCL(fit, cluster = cluster, type = "HC0", cadjust = FALSE),
    # Stata's adjustment for ML estimators (logit/poisson/nbreg, vce(cluster)): G/(G-1)
    stata = vcovCL(fit, cluster = cluster, type = "HC0", cadjust = TRUE),
    # sandwich's default for vcovCL: G/(G-1) * (n-1)/(n-k)
    CR1 = vcovCL(fit, cluster = cluster, type = "HC1", cadjust = TRUE)
  )
}

rows <- list()
add_rows <- function(case, term, scale, est, se, stat, p, lo, hi) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, term = term, scale = scale, estimate = est, std_error = se,
    statistic = stat, p_value = p, ci_lower = lo, ci_upper = hi, stringsAsFactors = FALSE
  )
}
meta <- list()

run_case <- function(case, data, family, formula_rhs, se_type, control = "control") {
  data$arm <- relevel(factor(data$arm), ref = control)
  f <- as.formula(paste("y ~", formula_rhs))
  if (family == "negative_binomial") {
    fit <- glm.nb(f, data = data, control = glm.control(epsilon = 1e-13, maxit = 200))
  } else {
    fit <- glm(f, data = data, family = family, control = glm.control(epsilon = 1e-13, maxit = 200))
    # glm() keeps the IRLS weights of the penultimate iteration; one more pass started at the
    # converged coefficients evaluates them (and so vcov) at the MLE itself.
    fit <- glm(f, data = data, family = family, start = coef(fit),
               control = glm.control(epsilon = 1e-13, maxit = 200))
  }
  V <- vcov_of(fit, se_type, data$cluster)
  b <- coef(fit)
  se <- sqrt(diag(V))
  z <- b / se
  p <- 2 * pnorm(-abs(z))
  q <- qnorm(0.975)
  terms <- names(b)
  add_rows(case, terms, "coefficient", b, se, z, p, b - q * se, b + q * se)

  arms <- setdiff(levels(data$arm), control)
  ratio_scale <- if (family == "binomial") "odds_ratio" else "rate_ratio"
  for (a in arms) {
    tn <- paste0("arm", a)
    # ratio scale: exp(b), SE by the delta method exp(b) * se (as Stata's `or`/`irr` display),
    # CI by exponentiating the log-scale CI; the test is the log-scale z test.
    add_rows(case, a, ratio_scale, exp(b[tn]), exp(b[tn]) * se[tn], z[tn], p[tn],
             exp(b[tn] - q * se[tn]), exp(b[tn] + q * se[tn]))
    # average marginal effect (discrete change) of arm a vs control over the whole sample
    d1 <- data; d1$arm <- factor(rep(a, nrow(data)), levels = levels(data$arm))
    d0 <- data; d0$arm <- factor(rep(control, nrow(data)), levels = levels(data$arm))
    tt <- delete.response(terms(fit))
    X1 <- model.matrix(tt, d1); X0 <- model.matrix(tt, d0)
    off <- if (!is.null(fit$offset)) fit$offset else 0
    eta1 <- drop(X1 %*% b) + off; eta0 <- drop(X0 %*% b) + off
    linkinv <- fit$family$linkinv; mu.eta <- fit$family$mu.eta
    ame <- mean(linkinv(eta1) - linkinv(eta0))
    grad <- colMeans(mu.eta(eta1) * X1 - mu.eta(eta0) * X0)
    ame_se <- sqrt(drop(t(grad) %*% V %*% grad))
    add_rows(case, a, "marginal_effect", ame, ame_se, ame / ame_se, 2 * pnorm(-abs(ame / ame_se)),
             ame - q * ame_se, ame + q * ame_se)
  }
  m <- list(case = case, family = family, se_type = se_type, rhs = formula_rhs,
            n = nobs(fit), loglik = as.numeric(logLik(fit)), deviance = deviance(fit),
            converged = fit$converged)
  if (family == "negative_binomial") {
    m$theta <- fit$theta
    m$theta_se <- fit$SE.theta
    # MASS::theta.ml returns the SE from the information at the last-but-one Newton iterate; the
    # same formula (MASS's `info`) evaluated at the final theta and fitted means:
    th <- fit$theta; mu <- fitted(fit); y <- fit$y
    info <- sum(-trigamma(th + y) + trigamma(th) - 1 / th + 2 / (mu + th) - (y + th) / (mu + th)^2)
    m$theta_se_at_mle <- sqrt(1 / info)
  }
  meta[[case]] <<- m
}

datasets <- list(binary_2arm = bin2, binary_3arm = bin3, count_3arm = cnt)
cases <- list(
  list("logit_2arm_plain_HC1", "binary_2arm", "binomial", "arm", "HC1"),
  list("logit_2arm_cov_classical", "binary_2arm", "binomial", "arm + x1 + x2", "classical"),
  list("logit_2arm_cov_HC0", "binary_2arm", "binomial", "arm + x1 + x2", "HC0"),
  list("logit_2arm_cov_HC1", "binary_2arm", "binomial", "arm + x1 + x2", "HC1"),
  list("logit_2arm_cov_HC2", "binary_2arm", "binomial", "arm + x1 + x2", "HC2"),
  list("logit_2arm_cov_HC3", "binary_2arm", "binomial", "arm + x1 + x2", "HC3"),
  list("logit_2arm_cov_CR0", "binary_2arm", "binomial", "arm + x1 + x2", "CR0"),
  list("logit_2arm_cov_stata", "binary_2arm", "binomial", "arm + x1 + x2", "stata"),
  list("logit_2arm_cov_CR1", "binary_2arm", "binomial", "arm + x1 + x2", "CR1"),
  list("logit_3arm_cov_HC1", "binary_3arm", "binomial", "arm + x1 + x2", "HC1"),
  list("logit_3arm_plain_HC0", "binary_3arm", "binomial", "arm", "HC0"),
  list("logit_3arm_cov_stata", "binary_3arm", "binomial", "arm + x1", "stata"),
  list("poisson_plain_HC0", "count_3arm", "poisson", "arm", "HC0"),
  list("poisson_cov_HC1", "count_3arm", "poisson", "arm + x1", "HC1"),
  list("poisson_cov_offset_HC1", "count_3arm", "poisson", "arm + x1 + offset(log(exposure))", "HC1"),
  list("poisson_cov_offset_HC3", "count_3arm", "poisson", "arm + x1 + offset(log(exposure))", "HC3"),
  list("poisson_cov_offset_stata", "count_3arm", "poisson", "arm + x1 + offset(log(exposure))", "stata"),
  list("poisson_cov_classical", "count_3arm", "poisson", "arm + x1", "classical"),
  list("nb_plain_classical", "count_3arm", "negative_binomial", "arm", "classical"),
  list("nb_cov_HC0", "count_3arm", "negative_binomial", "arm + x1", "HC0"),
  list("nb_cov_offset_HC1", "count_3arm", "negative_binomial", "arm + x1 + offset(log(exposure))", "HC1"),
  list("nb_cov_offset_classical", "count_3arm", "negative_binomial", "arm + x1 + offset(log(exposure))", "classical"),
  list("nb_cov_offset_CR0", "count_3arm", "negative_binomial", "arm + x1 + offset(log(exposure))", "CR0"),
  list("nb_cov_offset_stata", "count_3arm", "negative_binomial", "arm + x1 + offset(log(exposure))", "stata")
)
for (cs in cases) {
  m <- run_case(cs[[1]], datasets[[cs[[2]]]], cs[[3]], cs[[4]], cs[[5]])
  meta[[cs[[1]]]]$dataset <- cs[[2]]
}
res <- do.call(rbind, rows)
write.csv(res, file.path(out, "glm_results.csv"), row.names = FALSE)
writeLines(toJSON(unname(meta), auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out, "glm_cases.json"))
cat("wrote", nrow(res), "rows for", length(cases), "cases\n")
