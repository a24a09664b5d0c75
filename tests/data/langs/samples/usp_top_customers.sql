CREATE PROCEDURE [dbo].[usp_TopCustomers]
    @Count INT = 10
AS
BEGIN
    SET NOCOUNT ON;
    DECLARE @since DATETIME = DATEADD(month, -1, GETDATE());
    SELECT TOP (@Count) c.CustomerId, c.Name, SUM(o.Amount) AS Total
    FROM dbo.Customers c
    JOIN dbo.Orders o ON o.CustomerId = c.CustomerId
    WHERE o.CreatedAt >= @since
    GROUP BY c.CustomerId, c.Name
    ORDER BY Total DESC;
END
GO
