import Hummingbird

/// The route groups a controller adds to: `open` routes never need a key; `read`, `write` and
/// `admin` routes need a key with that scope when keys are configured.
struct ServiceRoutes {
    let open: RouterGroup<ServiceContext>
    let read: RouterGroup<ServiceContext>
    let write: RouterGroup<ServiceContext>
    let admin: RouterGroup<ServiceContext>
}

extension RecommendationService {
    /// The HTTP API, one controller per resource; `docs/openapi.yaml` describes it.
    public func router() -> Router<ServiceContext> {
        let router = Router(context: ServiceContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware())
        func group(_ scope: APIScope) -> RouterGroup<ServiceContext> {
            let group = router.group()
            if !limits.apiKeys.isEmpty { group.add(middleware: APIKeyMiddleware(keys: limits.apiKeys, scope: scope)) }
            return group
        }
        let routes = ServiceRoutes(open: router.group(), read: group(.read), write: group(.write), admin: group(.admin))
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
