import Hummingbird

/// The two route groups a controller adds to: `open` routes need no key, `keyed` routes need
/// the configured API key (when one is set).
struct ServiceRoutes {
    let open: RouterGroup<ServiceContext>
    let keyed: RouterGroup<ServiceContext>
}

extension RecommendationService {
    /// The HTTP API, one controller per resource; `docs/openapi.yaml` describes it.
    public func router() -> Router<ServiceContext> {
        let router = Router(context: ServiceContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware())
        let keyed = router.group()
        if let key = limits.apiKey { keyed.add(middleware: APIKeyMiddleware(key: key)) }
        let routes = ServiceRoutes(open: router.group(), keyed: keyed)
        HealthController(service: self).addRoutes(to: routes)
        EventsController(service: self).addRoutes(to: routes)
        ItemsController(service: self).addRoutes(to: routes)
        UsersController(service: self).addRoutes(to: routes)
        RecommendationsController(service: self).addRoutes(to: routes)
        ModelsController(service: self).addRoutes(to: routes)
        TrainingController(service: self).addRoutes(to: routes)
        return router
    }
}
