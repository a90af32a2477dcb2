# Interrupted time series reference: Lopez Bernal, Cummins & Gasparrini (2017) Int J Epidemiol 46:348-355,
# "Interrupted time series regression for the evaluation of public health interventions: a tutorial",
# models 2-4 of its published R code (github.com/gasparrini/2017_lopezbernal_IJE_codedata, Rcode.R),
# with tsModel::harmonic(month, 2, 12) written out (sin/cos of 2*pi*k*month/12, k = 1, 2), plus a
# linear segmented regression of the standardised rate with Newey-West errors (sandwich) and with
# AR(1) errors (stats::arima), and residual autocorrelation tests (lmtest::dwtest, Box.test).
# Run: Rscript its_sicily_reference.R  (writes its_sicily_reference.json)
suppressMessages({library(sandwich); library(lmtest); library(jsonlite)})
data <- read.csv("sicily.csv")
data$rate <- with(data, aces / stdpop * 10^5)
for (k in 1:2) {
  data[[paste0("sin", k)]] <- sin(2 * pi * k * data$month / 12)
  data[[paste0("cos", k)]] <- cos(2 * pi * k * data$month / 12)
}
data$after_time <- pmax(data$time - 36, 0) * data$smokban  # I(time-36):smokban, zero before the ban
coefs <- function(m, vc = vcov(m)) {
  se <- sqrt(diag(vc))
  list(names = names(coef(m)), estimate = unname(coef(m)), std_error = unname(se))
}
model2 <- glm(aces ~ offset(log(stdpop)) + smokban + time, family = quasipoisson, data)
model3 <- glm(aces ~ offset(log(stdpop)) + smokban + time + sin1 + cos1 + sin2 + cos2, family = quasipoisson, data)
model4 <- glm(aces ~ offset(log(stdpop)) + smokban + time + after_time + sin1 + cos1 + sin2 + cos2,
              family = quasipoisson, data)
model3p <- update(model3, family = poisson)
linear <- lm(rate ~ time + smokban + after_time, data)
nw <- NeweyWest(linear, lag = 3, prewhite = FALSE, adjust = TRUE)
xreg <- as.matrix(data[, c("time", "smokban", "after_time")])
ar1 <- arima(data$rate, order = c(1, 0, 0), xreg = xreg, method = "ML")
out <- list(
  source = "Lopez Bernal, Cummins & Gasparrini (2017) Int J Epidemiol 46:348-355; sicily.csv from the paper",
  model2 = c(coefs(model2), dispersion = summary(model2)$dispersion),
  model3 = c(coefs(model3), dispersion = summary(model3)$dispersion,
             rr_smokban = unname(exp(coef(model3)["smokban"])),
             rr_ci = unname(exp(coef(model3)["smokban"] + c(-1, 1) * qnorm(0.975) * sqrt(vcov(model3)["smokban", "smokban"])))),
  model4 = coefs(model4),
  model3_poisson_newey_west_lag3 = coefs(model3p, NeweyWest(model3p, lag = 3, prewhite = FALSE, adjust = TRUE)),
  model3_ljung_box_lag12 = list(
    statistic = unname(Box.test(residuals(model3, type = "deviance"), lag = 12, type = "Ljung-Box")$statistic),
    p_value = Box.test(residuals(model3, type = "deviance"), lag = 12, type = "Ljung-Box")$p.value),
  linear_newey_west_lag3 = coefs(linear, nw),
  linear_classical = coefs(linear),
  linear_durbin_watson = unname(dwtest(linear)$statistic),
  linear_ljung_box_lag12 = list(statistic = unname(Box.test(residuals(linear), lag = 12, type = "Ljung-Box")$statistic),
                                p_value = Box.test(residuals(linear), lag = 12, type = "Ljung-Box")$p.value),
  linear_ar1 = list(names = names(coef(ar1)), estimate = unname(coef(ar1)), std_error = unname(sqrt(diag(ar1$var.coef))),
                    loglik = ar1$loglik),
  r_version = R.version.string,
  sandwich_version = as.character(packageVersion("sandwich"))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "its_sicily_reference.json")
